using Cocoon.Inference.Generation;

namespace Cocoon.Inference.Tests.Generation;

/// <summary>Holds an engine's scheduler before each step until the test lets it take one.</summary>
internal sealed class SchedulerGate : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly SemaphoreSlim _arrived = new(0);
    private readonly SemaphoreSlim _proceed = new(0);
    private volatile bool _open;

    public SchedulerGate(TextGenerationEngine engine) => engine.StepGate = Hold;

    /// <summary>Waits until the scheduler is held at the gate.</summary>
    public async Task ArrivedAsync()
    {
        Assert.True(await _arrived.WaitAsync(Patience), "The scheduler did not reach the gate.");
    }

    /// <summary>Lets the scheduler run one step; it is held again before the next.</summary>
    public void Step() => _proceed.Release();

    /// <summary>Lets the scheduler run freely from now on.</summary>
    public void Open()
    {
        _open = true;
        _proceed.Release();
    }

    public void Dispose()
    {
        Open();
        _arrived.Dispose();
        _proceed.Dispose();
    }

    private void Hold()
    {
        if (_open)
        {
            return;
        }

        _arrived.Release();
        _proceed.Wait(Patience);
    }
}
