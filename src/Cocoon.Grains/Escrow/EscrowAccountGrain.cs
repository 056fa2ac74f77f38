using Cocoon.Grains.Placement;
using Microsoft.Extensions.DependencyInjection;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Telemetry;
using Microsoft.Extensions.Options;

namespace Cocoon.Grains.Escrow;

[GenerateSerializer, Alias("cocoon.escrow.EscrowState")]
public sealed class EscrowState
{
    /// <summary>Everything ever credited.</summary>
    [Id(0)] public long Deposited { get; set; }

    /// <summary>Everything ever charged. Balance = Deposited - Charged.</summary>
    [Id(1)] public long Charged { get; set; }

    /// <summary>Open holds by request id.</summary>
    [Id(2)] public Dictionary<string, HeldAmount> Reservations { get; set; } = [];

    /// <summary>Settled requests by id (what a repeated settle returns), with when they were settled.</summary>
    [Id(3)] public Dictionary<string, SettledRequest> Settled { get; set; } = [];

    /// <summary>Credited deposit ids.</summary>
    [Id(4)] public HashSet<string> Deposits { get; set; } = [];
}

[GenerateSerializer, Immutable, Alias("cocoon.escrow.HeldAmount")]
public sealed record HeldAmount([property: Id(0)] long NanoTon, [property: Id(1)] DateTimeOffset ExpiresAt);

[GenerateSerializer, Immutable, Alias("cocoon.escrow.SettledRequest")]
public sealed record SettledRequest([property: Id(0)] long ChargedNanoTon, [property: Id(1)] string WorkerId, [property: Id(2)] DateTimeOffset At);

/// <summary>
/// A client's escrow account; see <see cref="IEscrowAccountGrain"/>. Invariant after every operation:
/// <c>0 &lt;= Reserved &lt;= Balance = Deposited - Charged</c>. State is written before a call returns, so an
/// acknowledged operation survives a crash; a retried one is answered from the record it left.
/// </summary>
[ProxyRole]
public sealed class EscrowAccountGrain(
    [PersistentState("escrow", CocoonNames.StorageName)] IPersistentState<EscrowState> state,
    [FromKeyedServices(CocoonGrainsExtensions.ClockKey)] TimeProvider time,
    IOptions<ReminderOptions> reminders) : Grain, IEscrowAccountGrain, IRemindable
{
    private const string ExpiryReminder = "expire-reservations";

    /// <summary>
    /// How many settled request ids an account remembers, newest first. The whole state is written on every
    /// operation, so this bounds both its size and the cost of a write. A repeated settle of a request older than that
    /// finds neither its record nor its reservation and is refused: it can never charge twice.
    /// </summary>
    public const int RememberedSettlements = 256;

    private bool? _hasReminder;

    private EscrowState S => state.State;

    /// <inheritdoc />
    public async Task<EscrowBalance> DepositAsync(string depositId, long nanoTon)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(depositId);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(nanoTon);
        if (S.Deposits.Add(depositId))
        {
            S.Deposited = checked(S.Deposited + nanoTon);
            await state.WriteStateAsync();
        }

        return Balance();
    }

    /// <inheritdoc />
    public async Task<Reservation> ReserveAsync(string requestId, long nanoTon, TimeSpan timeToLive)
    {
        using var span = CocoonTelemetry.StartSpan("cocoon.escrow.reserve");
        ArgumentException.ThrowIfNullOrWhiteSpace(requestId);
        ArgumentOutOfRangeException.ThrowIfNegative(nanoTon);
        if (S.Reservations.TryGetValue(requestId, out var held))
        {
            return new Reservation(requestId, held.NanoTon, held.ExpiresAt);
        }

        if (S.Settled.ContainsKey(requestId))
        {
            throw new CocoonApiException(409, "request_settled", $"Request {requestId} was already settled.");
        }

        var available = Balance().Available;
        if (nanoTon > available)
        {
            throw new InsufficientBalanceException(nanoTon, available);
        }

        var expiresAt = time.GetUtcNow() + timeToLive;
        S.Reservations[requestId] = new HeldAmount(nanoTon, expiresAt);
        await state.WriteStateAsync();
        CocoonTelemetry.EscrowReserved.Add(nanoTon);
        await EnsureExpiryReminderAsync();
        return new Reservation(requestId, nanoTon, expiresAt);
    }

    /// <inheritdoc />
    public async Task<Settlement> SettleAsync(string requestId, long chargeNanoTon, string workerId)
    {
        using var span = CocoonTelemetry.StartSpan("cocoon.escrow.settle");
        ArgumentException.ThrowIfNullOrWhiteSpace(requestId);
        ArgumentOutOfRangeException.ThrowIfNegative(chargeNanoTon);
        if (S.Settled.TryGetValue(requestId, out var done))
        {
            return new Settlement(requestId, done.ChargedNanoTon, done.WorkerId, Balance());
        }

        if (!S.Reservations.TryGetValue(requestId, out var held))
        {
            throw new CocoonApiException(409, "no_reservation", $"Request {requestId} has no reservation to settle (released or expired).");
        }

        if (chargeNanoTon > held.NanoTon)
        {
            throw new CocoonApiException(500, "charge_exceeds_reservation",
                $"Request {requestId} would be charged {chargeNanoTon} nanoTON but only {held.NanoTon} was reserved.");
        }

        var now = time.GetUtcNow();
        S.Reservations.Remove(requestId);
        S.Charged = checked(S.Charged + chargeNanoTon);
        S.Settled[requestId] = new SettledRequest(chargeNanoTon, workerId, now);
        ForgetOldSettlements();
        await state.WriteStateAsync();
        CocoonTelemetry.EscrowCharged.Add(chargeNanoTon);
        return new Settlement(requestId, chargeNanoTon, workerId, Balance());
    }

    /// <inheritdoc />
    public async Task<EscrowBalance> ReleaseAsync(string requestId)
    {
        if (S.Reservations.Remove(requestId))
        {
            await state.WriteStateAsync();
        }

        return Balance();
    }

    /// <inheritdoc />
    public Task<EscrowBalance> GetBalanceAsync() => Task.FromResult(Balance());

    /// <inheritdoc />
    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != ExpiryReminder)
        {
            return;
        }

        var now = time.GetUtcNow();
        var expired = S.Reservations.Where(r => r.Value.ExpiresAt <= now).Select(r => r.Key).ToList();
        foreach (var requestId in expired)
        {
            S.Reservations.Remove(requestId);
        }

        if (expired.Count > 0)
        {
            await state.WriteStateAsync();
        }

        if (S.Reservations.Count == 0 && await this.GetReminder(ExpiryReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
            _hasReminder = false;
        }
    }

    private async Task EnsureExpiryReminderAsync()
    {
        // Looked up once per activation: the reminder table is not read on every reservation.
        _hasReminder ??= await this.GetReminder(ExpiryReminder) is not null;
        if (_hasReminder == true)
        {
            return;
        }

        // Reminders survive deactivation and silo loss. It ticks every period (the shortest the cluster allows, one
        // minute by default) while holds are open, so an expired hold is gone within a period of its expiry.
        var period = reminders.Value.MinimumReminderPeriod;
        await this.RegisterOrUpdateReminder(ExpiryReminder, period, period);
        _hasReminder = true;
    }

    private void ForgetOldSettlements()
    {
        if (S.Settled.Count <= RememberedSettlements)
        {
            return;
        }

        foreach (var old in S.Settled.OrderBy(s => s.Value.At).ThenBy(s => s.Key, StringComparer.Ordinal)
                     .Take(S.Settled.Count - RememberedSettlements).Select(s => s.Key).ToList())
        {
            S.Settled.Remove(old);
        }
    }

    private EscrowBalance Balance()
    {
        long reserved = 0;
        foreach (var held in S.Reservations.Values)
        {
            reserved = checked(reserved + held.NanoTon);
        }

        return new EscrowBalance(checked(S.Deposited - S.Charged), reserved, S.Charged, S.Deposited);
    }
}
