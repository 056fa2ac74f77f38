namespace Cocoon.Node.Hosting;

/// <summary>
/// One background loop of a hosted service: started at most once, stopped by cancelling its token and waiting for it
/// (as long as the host's stop token allows), cancelled on dispose. Used by the services that refresh something
/// periodically (RA-TLS certificate renewal, the root contract's image allow-list).
/// </summary>
internal sealed class BackgroundLoop : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    /// <summary>Starts <paramref name="body"/> with the loop's token, unless it runs already.</summary>
    public void Start(Func<CancellationToken, Task> body) => _loop ??= body(_stop.Token);

    /// <summary>Cancels the loop and waits for it to end, or for <paramref name="cancellationToken"/>.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopping.
            }
        }
    }

    /// <summary>Cancels the loop without waiting.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }
}
