using System.Collections.Concurrent;
using Cocoon.Abstractions;
using Orleans.Placement;

namespace Cocoon.Node.Tests;

[Alias("cocoon.tests.ICounterGrain")]
public interface ICounterGrain : IGrainWithStringKey
{
    [Alias("Increment")]
    Task<CounterSnapshot> IncrementAsync();

    [Alias("Get")]
    Task<CounterSnapshot> GetAsync();
}

[GenerateSerializer, Immutable, Alias("cocoon.tests.CounterSnapshot")]
public sealed record CounterSnapshot([property: Id(0)] int Value, [property: Id(1)] string Silo);

[GenerateSerializer, Alias("cocoon.tests.CounterState")]
public sealed class CounterState
{
    [Id(0)] public int Value { get; set; }
}

/// <summary>A persistent counter that activates on the calling silo, so a test chooses where state is written.</summary>
[PreferLocalPlacement]
public sealed class CounterGrain(
    [PersistentState("counter", CocoonNames.StorageName)] IPersistentState<CounterState> state,
    ILocalSiloDetails silo) : Grain, ICounterGrain
{
    public async Task<CounterSnapshot> IncrementAsync()
    {
        state.State.Value++;
        await state.WriteStateAsync();
        return new CounterSnapshot(state.State.Value, silo.Name);
    }

    public Task<CounterSnapshot> GetAsync() => Task.FromResult(new CounterSnapshot(state.State.Value, silo.Name));
}

[Alias("cocoon.tests.IAlarmGrain")]
public interface IAlarmGrain : IGrainWithStringKey
{
    [Alias("Arm")]
    Task ArmAsync(TimeSpan dueTime, TimeSpan period);
}

/// <summary>Registers a reminder; each tick reports the silo it fired on to <see cref="AlarmSignals"/>.</summary>
public sealed class AlarmGrain(ILocalSiloDetails silo) : Grain, IAlarmGrain, IRemindable
{
    public async Task ArmAsync(TimeSpan dueTime, TimeSpan period) =>
        await this.RegisterOrUpdateReminder("alarm", dueTime, period);

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        AlarmSignals.For(this.GetPrimaryKeyString()).TrySetResult(silo.Name);
        return Task.CompletedTask;
    }
}

public static class AlarmSignals
{
    private static readonly ConcurrentDictionary<string, TaskCompletionSource<string>> Signals = new();

    public static TaskCompletionSource<string> For(string key) =>
        Signals.GetOrAdd(key, _ => new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously));
}
