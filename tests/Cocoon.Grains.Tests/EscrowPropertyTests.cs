using Cocoon.Abstractions;
using Cocoon.Abstractions.Escrow;
using CsCheck;

namespace Cocoon.Grains.Tests;

/// <summary>The tests that move the cluster's clock far: they run alone, after the parallel tests.</summary>
[CollectionDefinition(nameof(ClockMovingCollection), DisableParallelization = true)]
public sealed class ClockMovingCollection;

/// <summary>
/// Property tests of the escrow account (issue 8): random sequences of deposits (some replayed), reservations (some
/// too large, some for settled requests), settles (some above the reservation, some repeated), releases and
/// expiries run against the real grain on PostgreSQL and against a plain model of the rules beside it. After every
/// step the grain's answer and balances must equal the model's, and the money invariants must hold: deposited =
/// balance + charged (no nanoTON created or lost), 0 &lt;= reserved &lt;= balance (never overdrawn). CsCheck shrinks a
/// failing sequence to a short one and prints its seed.
/// </summary>
[Collection(nameof(ClockMovingCollection))]
public sealed class EscrowPropertyTests(GrainCluster cluster)
{
    private static readonly TimeSpan ShortLife = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan LongLife = TimeSpan.FromDays(2);

    private abstract record Op;

    private sealed record Deposit(int Id, long NanoTon) : Op;

    private sealed record Reserve(int Request, long NanoTon, bool Short) : Op;

    private sealed record Settle(int Request, long NanoTon) : Op;

    private sealed record Release(int Request) : Op;

    private sealed record Expire : Op;

    private static readonly Gen<Op> OpGen = Gen.Frequency(
        (3, Gen.Select(Gen.Int[0, 4], Gen.Long[1, 1_000], (id, n) => (Op)new Deposit(id, n))),
        (5, Gen.Select(Gen.Int[0, 7], Gen.Long[0, 1_500], Gen.Bool, (r, n, s) => (Op)new Reserve(r, n, s))),
        (4, Gen.Select(Gen.Int[0, 7], Gen.Long[0, 1_500], (r, n) => (Op)new Settle(r, n))),
        (2, Gen.Int[0, 7].Select(r => (Op)new Release(r))),
        (1, Gen.Const((Op)new Expire())));

    [Fact]
    public async Task Random_operation_sequences_never_create_lose_or_overdraw_a_nanoton() =>
        await OpGen.Array[1, 30].SampleAsync(RunAsync, iter: 40, threads: 1, print: ops => string.Join(", ", ops.Select(o => o.ToString())));

    private async Task RunAsync(Op[] ops)
    {
        var account = cluster.Grains.GetGrain<IEscrowAccountGrain>("prop-" + Guid.NewGuid().ToString("N"));
        var model = new Model();
        for (var step = 0; step < ops.Length; step++)
        {
            var op = ops[step];
            var where = $"step {step} ({op})";
            switch (op)
            {
                case Deposit d:
                    var afterDeposit = await account.DepositAsync("dep-" + d.Id, d.NanoTon);
                    model.Deposit(d.Id, d.NanoTon);
                    Assert.True(model.Balance == afterDeposit, $"{where}: grain {afterDeposit}, model {model.Balance}");
                    break;
                case Reserve r:
                    var expected = model.Reserve(r.Request, r.NanoTon, r.Short);
                    try
                    {
                        var held = await account.ReserveAsync("req-" + r.Request, r.NanoTon, r.Short ? ShortLife : LongLife);
                        Assert.True(expected.Error is null, $"{where}: grain reserved, model expected {expected.Error}");
                        Assert.Equal(expected.NanoTon, held.NanoTon);
                    }
                    catch (InsufficientBalanceException e)
                    {
                        Assert.True(expected.Error == "insufficient", $"{where}: grain refused for balance ({e.Message}), model expected {expected.Error ?? "success"}");
                    }
                    catch (CocoonApiException e)
                    {
                        Assert.True(expected.Error == e.Code, $"{where}: grain refused {e.Code}, model expected {expected.Error ?? "success"}");
                    }

                    break;
                case Settle s:
                    var outcome = model.Settle(s.Request, s.NanoTon);
                    try
                    {
                        var settled = await account.SettleAsync("req-" + s.Request, s.NanoTon, "worker-" + (s.Request % 3));
                        Assert.True(outcome.Error is null, $"{where}: grain settled, model expected {outcome.Error}");
                        Assert.Equal(outcome.Charged, settled.ChargedNanoTon);
                    }
                    catch (CocoonApiException e)
                    {
                        Assert.True(outcome.Error == e.Code, $"{where}: grain refused {e.Code}, model expected {outcome.Error ?? "success"}");
                    }

                    break;
                case Release l:
                    await account.ReleaseAsync("req-" + l.Request);
                    model.Release(l.Request);
                    break;
                case Expire:
                    model.Expire();
                    cluster.Clock.Advance(ShortLife + TimeSpan.FromMinutes(1));
                    await WaitForReservedAsync(account, model.Balance.Reserved, where);
                    break;
            }

            var balance = await account.GetBalanceAsync();
            Assert.True(model.Balance == balance, $"{where}: grain {balance}, model {model.Balance}");
            Assert.True(balance.Deposited == balance.Balance + balance.Charged, $"{where}: money created or lost: {balance}");
            Assert.True(balance.Reserved >= 0 && balance.Reserved <= balance.Balance, $"{where}: overdrawn: {balance}");
        }
    }

    private static async Task WaitForReservedAsync(IEscrowAccountGrain account, long reserved, string where)
    {
        // The expiry reminder ticks every second in this cluster; an expired hold must be gone within a few ticks.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await account.GetBalanceAsync()).Reserved != reserved)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{where}: expired reservations were not released within 30 s");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>The escrow rules, written plainly.</summary>
    private sealed class Model
    {
        private readonly HashSet<int> _deposits = [];
        private readonly Dictionary<int, (long NanoTon, bool Short)> _held = [];
        private readonly Dictionary<int, long> _settled = [];
        private long _deposited;
        private long _charged;

        public EscrowBalance Balance => new(_deposited - _charged, _held.Values.Sum(h => h.NanoTon), _charged, _deposited);

        public void Deposit(int id, long nanoTon)
        {
            if (_deposits.Add(id))
            {
                _deposited += nanoTon;
            }
        }

        public (string? Error, long NanoTon) Reserve(int request, long nanoTon, bool isShort)
        {
            if (_held.TryGetValue(request, out var held))
            {
                return (null, held.NanoTon);
            }

            if (_settled.ContainsKey(request))
            {
                return ("request_settled", 0);
            }

            if (nanoTon > Balance.Available)
            {
                return ("insufficient", 0);
            }

            _held[request] = (nanoTon, isShort);
            return (null, nanoTon);
        }

        public (string? Error, long Charged) Settle(int request, long nanoTon)
        {
            if (_settled.TryGetValue(request, out var charged))
            {
                return (null, charged);
            }

            if (!_held.TryGetValue(request, out var held))
            {
                return ("no_reservation", 0);
            }

            if (nanoTon > held.NanoTon)
            {
                return ("charge_exceeds_reservation", 0);
            }

            _held.Remove(request);
            _settled[request] = nanoTon;
            _charged += nanoTon;
            return (null, nanoTon);
        }

        public void Release(int request) => _held.Remove(request);

        public void Expire()
        {
            foreach (var request in _held.Where(h => h.Value.Short).Select(h => h.Key).ToList())
            {
                _held.Remove(request);
            }
        }
    }
}
