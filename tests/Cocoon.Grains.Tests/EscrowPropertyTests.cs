using Cocoon.Abstractions;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Pricing;
using CsCheck;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Grains.Tests;

/// <summary>
/// The tests that run alone, after the parallel tests: those that move the cluster's clock far, and those that count
/// activations, which another test's worker silo leaving the cluster would disturb (activations whose directory entry
/// lived on the leaving silo are deactivated).
/// </summary>
[CollectionDefinition(nameof(SerialCollection), DisableParallelization = true)]
public sealed class SerialCollection;

/// <summary>
/// Property tests of the escrow account (issue 8): random sequences of deposits (some replayed), reservations (some
/// too large, some for settled requests), settles (some above the reservation, some repeated), releases, expiries,
/// a client contract's stake (some reservations past it), charges confirmed on chain, and close requests with their
/// delayed refund run against the real grain on PostgreSQL and against a plain model of the rules beside it. After
/// every step the grain's answer and balances must equal the model's, and the money invariants must hold: deposited =
/// balance + charged + refunded (no nanoTON created or lost), 0 &lt;= reserved &lt;= balance (never overdrawn), and
/// with a stake, uncharged + reserved &lt;= stake. CsCheck shrinks a failing sequence to a short one and prints its seed.
/// </summary>
[Collection(nameof(SerialCollection))]
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

    /// <summary>Settlement links the client contract: a stake (0: none) and a one-minute close delay.</summary>
    private sealed record Link(long Stake) : Op;

    /// <summary>The contract confirms this share of the tokens charged so far.</summary>
    private sealed record ConfirmOnChain(int Percent) : Op;

    private sealed record Close : Op;

    private static readonly TimeSpan LinkedCloseDelay = TimeSpan.FromMinutes(1);

    private static readonly Gen<Op> OpGen = Gen.Frequency(
        (3, Gen.Select(Gen.Int[0, 4], Gen.Long[1, 1_000], (id, n) => (Op)new Deposit(id, n))),
        (5, Gen.Select(Gen.Int[0, 7], Gen.Long[0, 1_500], Gen.Bool, (r, n, s) => (Op)new Reserve(r, n, s))),
        (4, Gen.Select(Gen.Int[0, 7], Gen.Long[0, 1_500], (r, n) => (Op)new Settle(r, n))),
        (2, Gen.Int[0, 7].Select(r => (Op)new Release(r))),
        (1, Gen.Const((Op)new Expire())),
        (1, Gen.Long[0, 2_000].Select(s => (Op)new Link(s))),
        (1, Gen.Int[0, 100].Select(p => (Op)new ConfirmOnChain(p))),
        (1, Gen.Const((Op)new Close())));

    [Fact]
    public async Task Random_operation_sequences_never_create_lose_or_overdraw_a_nanoton() =>
        await OpGen.Array[1, 30].SampleAsync(RunAsync, iter: 40, threads: 1, print: ops => string.Join(", ", ops.Select(o => o.ToString())));

    private async Task RunAsync(Op[] ops)
    {
        var account = cluster.Grains.GetGrain<IEscrowAccountGrain>("prop-" + Guid.NewGuid().ToString("N"));
        var model = new Model(cluster.Node.Host.Services.GetRequiredService<PriceList>().PricePerToken);
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
                    var outcome = model.Settle(s.Request, s.NanoTon, cluster.Clock.GetUtcNow());
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
                    model.Release(l.Request, cluster.Clock.GetUtcNow());
                    break;
                case Expire:
                    cluster.Clock.Advance(ShortLife + TimeSpan.FromMinutes(1));
                    model.Expire(cluster.Clock.GetUtcNow());
                    await WaitForAsync(account, model, where);
                    break;
                case Link k:
                    var linked = await account.SetClientContractAsync(k.Stake, LinkedCloseDelay);
                    model.Link(k.Stake);
                    Assert.Equal(k.Stake, linked.StakeNanoTon);
                    break;
                case ConfirmOnChain c:
                    var tokens = model.ChargedTokens * c.Percent / 100;
                    var confirmed = await account.ConfirmChargedOnChainAsync(tokens);
                    model.ConfirmOnChain(tokens);
                    Assert.True(model.Uncharged == confirmed.UnchargedNanoTon, $"{where}: grain uncharged {confirmed.UnchargedNanoTon}, model {model.Uncharged}");
                    break;
                case Close:
                    var closing = await account.RequestCloseAsync();
                    model.Close(cluster.Clock.GetUtcNow());
                    Assert.True(model.Status == closing.Status && model.CloseAt == closing.CloseAt, $"{where}: grain {closing.Status} {closing.CloseAt}, model {model.Status} {model.CloseAt}");
                    break;
            }

            var ledger = await account.GetLedgerAsync();
            var balance = ledger.Balance;
            Assert.True(model.Balance == balance, $"{where}: grain {balance}, model {model.Balance}");
            Assert.True(model.Status == ledger.Status, $"{where}: grain {ledger.Status}, model {model.Status}");
            Assert.True(balance.Deposited == balance.Balance + balance.Charged + balance.Refunded, $"{where}: money created or lost: {balance}");
            Assert.True(balance.Reserved >= 0 && balance.Reserved <= balance.Balance, $"{where}: overdrawn: {balance}");
            Assert.True(ledger.StakeNanoTon == 0 || model.GrewPastStake || ledger.UnchargedNanoTon + balance.Reserved <= ledger.StakeNanoTon,
                $"{where}: past the stake: {ledger}");
        }
    }

    private static async Task WaitForAsync(IEscrowAccountGrain account, Model model, string where)
    {
        // The expiry and close reminders tick every second in this cluster; an expired hold must be gone, and a close
        // that is due done, within a few ticks.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await account.GetLedgerAsync() is var ledger && (ledger.Balance != model.Balance || ledger.Status != model.Status))
        {
            Assert.True(DateTime.UtcNow < deadline, $"{where}: expiry or close not done within 30 s: grain {ledger.Balance} {ledger.Status}, model {model.Balance} {model.Status}");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>The escrow rules, written plainly.</summary>
    private sealed class Model(long price)
    {
        private readonly HashSet<int> _deposits = [];
        private readonly Dictionary<int, (long NanoTon, bool Short)> _held = [];
        private readonly Dictionary<int, long> _settled = [];
        private long _deposited;
        private long _charged;
        private long _refunded;
        private long _stake;
        private long _onChainTokens;
        private TimeSpan _closeDelay = Grains.Escrow.EscrowAccountGrain.DefaultCloseDelay;

        public EscrowBalance Balance => new(_deposited - _charged - _refunded, _held.Values.Sum(h => h.NanoTon), _charged, _deposited) { Refunded = _refunded };

        public EscrowAccountStatus Status { get; private set; }

        public DateTimeOffset? CloseAt { get; private set; }

        public long ChargedTokens => _charged / price;

        public long Uncharged => _charged - (_onChainTokens * price);

        /// <summary>A stake linked (or lowered) below what was already uncharged and held: the bound holds for new reservations only.</summary>
        public bool GrewPastStake { get; private set; }

        public void Link(long stake)
        {
            _stake = stake;
            _closeDelay = LinkedCloseDelay;
            GrewPastStake = stake > 0 && Uncharged + Balance.Reserved > stake;
        }

        public void ConfirmOnChain(long tokens)
        {
            _onChainTokens = Math.Max(_onChainTokens, tokens);
            GrewPastStake = GrewPastStake && Uncharged + Balance.Reserved > _stake;
        }

        public void Close(DateTimeOffset now)
        {
            if (Status == EscrowAccountStatus.Closing || (Status == EscrowAccountStatus.Closed && Balance.Balance == 0))
            {
                return;
            }

            Status = EscrowAccountStatus.Closing;
            CloseAt = now + _closeDelay;
        }

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

            if (Status != EscrowAccountStatus.Open)
            {
                return (Status == EscrowAccountStatus.Closing ? "account_closing" : "account_closed", 0);
            }

            if (nanoTon > Balance.Available)
            {
                return ("insufficient", 0);
            }

            if (_stake > 0 && Uncharged + Balance.Reserved + nanoTon > _stake)
            {
                return ("stake_exhausted", 0);
            }

            _held[request] = (nanoTon, isShort);
            return (null, nanoTon);
        }

        public (string? Error, long Charged) Settle(int request, long nanoTon, DateTimeOffset now)
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
            FinishCloseIfDue(now);
            return (null, nanoTon);
        }

        public void Release(int request, DateTimeOffset now)
        {
            if (_held.Remove(request))
            {
                FinishCloseIfDue(now);
            }
        }

        public void Expire(DateTimeOffset now)
        {
            foreach (var request in _held.Where(h => h.Value.Short).Select(h => h.Key).ToList())
            {
                _held.Remove(request);
            }

            FinishCloseIfDue(now);
        }

        private void FinishCloseIfDue(DateTimeOffset now)
        {
            if (Status == EscrowAccountStatus.Closing && CloseAt <= now && _held.Count == 0)
            {
                _refunded += Balance.Balance;
                Status = EscrowAccountStatus.Closed;
                CloseAt = null;
            }
        }
    }
}
