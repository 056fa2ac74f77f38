using Cocoon.Abstractions.Models;
using Cocoon.Abstractions.Workers;
using Cocoon.Grains.Inference;
using Cocoon.Inference.Batching;
using Cocoon.Inference.Embeddings;
using Cocoon.Inference.Generation;
using Cocoon.Inference.Models;
using Cocoon.Inference.Runtime;
using Cocoon.Node.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cocoon.Node.Hosting;

/// <summary>
/// The worker role of a silo: loads its models through the verified model store, starts their engines (an embedding
/// engine or a text generation engine, as the manifest's kind says; CUDA when usable, else CPU, and says which), registers
/// a lease per model and renews it until the silo stops. Start-up
/// finishes only when every model is loaded and registered, so a started worker can serve.
/// </summary>
public sealed partial class WorkerAgent(
    NodeSettings settings,
    LocalWorkers workers,
    IGrainFactory grains,
    ILocalSiloDetails silo,
    NodeProgress progress,
    IServiceProvider services,
    ILogger<WorkerAgent> logger) : IHostedService, IAsyncDisposable
{
    private readonly List<(LocalWorker Worker, IAsyncDisposable Engine)> _running = [];
    private readonly ReceiptSigner? _receipts = services.GetService(typeof(ReceiptSigner)) as ReceiptSigner;
    private readonly NodeAttestation? _attestation = services.GetService(typeof(NodeAttestation)) as NodeAttestation;
    private readonly Dictionary<string, WorkerAttestation> _published = new(StringComparer.Ordinal);
    private WorkerAttestation? _current;
    private string? _currentThumbprint;
    private CancellationTokenSource? _stop;
    private Task? _renewals;

    private TimeSpan LeaseTime => TimeSpan.FromSeconds(settings.Worker.LeaseSeconds);

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var prefix = string.IsNullOrWhiteSpace(settings.Worker.Id) ? settings.SiloName : settings.Worker.Id;
        foreach (var model in settings.WorkerModels)
        {
            var verified = LoadModel(model);
            var (engine, deployment, provider) = StartEngine(model, verified);
            var registration = new WorkerRegistration
            {
                Model = model,
                ModelHash = deployment.ModelHash,
                SiloAddress = silo.SiloAddress.ToParsableString(),
                Capacity = settings.Worker.Capacity,
                Coefficient = settings.Worker.Coefficient,
                OwnerAddress = settings.Worker.OwnerAddress,
                ExecutionProvider = provider.Name,
            };
            var worker = new LocalWorker($"{prefix}.{model}", registration, engine as IEmbeddingEngine, engine as ITextGenerationEngine);
            workers.Add(worker);
            _running.Add((worker, engine));

            await WhenProxyKnownAsync(async () =>
            {
                if (settings.AutoDeploy && await grains.GetGrain<IModelDeploymentGrain>(model).GetAsync() is null)
                {
                    await grains.GetGrain<IModelDeploymentGrain>(model).DeployAsync(deployment);
                }

                await grains.GetGrain<IWorkerLeaseGrain>(worker.WorkerId).RenewAsync(registration, LeaseTime);
                await PublishAttestationAsync(worker.WorkerId, force: true);
            }, cancellationToken);
            progress.Report($"worker {worker.WorkerId} serves {model} on {provider}, capacity {registration.Capacity}");
            LogServing(worker.WorkerId, model, provider.Name, provider.Reason, registration.Capacity);
        }

        if (_running.Count > 0)
        {
            _stop = new CancellationTokenSource();
            _renewals = RenewLoopAsync(_stop.Token);
        }
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stop is not null)
        {
            await _stop.CancelAsync();
            await _renewals!.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        // Leave the live sets now rather than when the leases run out, so routing stops at once.
        foreach (var (worker, _) in _running)
        {
            try
            {
                await grains.GetGrain<IWorkerLeaseGrain>(worker.WorkerId).ReleaseAsync().WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
            }
            catch (Exception e) when (e is TimeoutException or OrleansException or OperationCanceledException)
            {
                LogReleaseFailed(worker.WorkerId, e.GetType().Name);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _stop?.Dispose();
        foreach (var (_, engine) in _running)
        {
            await engine.DisposeAsync();
        }
    }

    private VerifiedModel LoadModel(string model)
    {
        var directory = Path.Combine(Path.GetFullPath(settings.Worker.ModelsDirectory!), model);
        if (!Directory.Exists(directory) && settings.Worker.InstallBuiltInModels && model is BuiltInModels.MiniLmName or BuiltInModels.TinyLmName)
        {
            progress.Report($"installing the built-in {model} into {directory}");
            if (model == BuiltInModels.MiniLmName)
            {
                BuiltInModels.MaterializeMiniLm(directory);
            }
            else
            {
                BuiltInModels.MaterializeTinyLm(directory);
            }
        }

        if (!Directory.Exists(directory))
        {
            throw new CocoonConfigurationException("Cocoon:Worker:Models", $"model '{model}' has no folder {directory}.");
        }

        VerifiedModel verified;
        try
        {
            verified = ModelStore.LoadFolder(directory);
        }
        catch (Cocoon.Inference.InferenceException e)
        {
            throw new CocoonConfigurationException("Cocoon:Worker:Models", $"model '{model}' in {directory} is refused: {e.Message}", e);
        }

        return verified;
    }

    // The engine the manifest's kind calls for, and the deployment a devnet worker creates for it.
    private (IAsyncDisposable Engine, ModelDeployment Deployment, ExecutionProviderInfo Provider) StartEngine(string model, VerifiedModel verified)
    {
        var session = new OnnxSessionSettings { Preference = Enum.Parse<ExecutionProviderPreference>(settings.Worker.ExecutionProvider, ignoreCase: true) };
        try
        {
            switch (verified.Manifest.Kind)
            {
                case ModelKinds.Embedding:
                    var embeddings = EmbeddingEngine.Create(verified, new EmbeddingEngineOptions
                    {
                        Session = session,
                        Batching = new BatchingOptions
                        {
                            Capacity = settings.Worker.Capacity,
                            MaxBatchSize = settings.Worker.MaxBatchSize,
                            MaxWait = TimeSpan.FromMilliseconds(settings.Worker.MaxBatchWaitMilliseconds),
                        },
                    });
                    return (embeddings, new ModelDeployment
                    {
                        Name = model,
                        Kind = ModelKind.Embedding,
                        ModelHash = embeddings.ModelSha256,
                        ContextLength = embeddings.MaxSequenceLength,
                        Dimensions = embeddings.Dimensions,
                    }, embeddings.ExecutionProvider);
                case ModelKinds.TextGeneration:
                    // Capacity is the decode batch: continuous batching runs up to this many sequences per step.
                    var generation = TextGenerationEngine.Create(verified, new TextGenerationEngineOptions { Session = session, Capacity = settings.Worker.Capacity });
                    return (generation, new ModelDeployment
                    {
                        Name = model,
                        Kind = ModelKind.TextGeneration,
                        ModelHash = generation.ModelSha256,
                        ContextLength = generation.ContextLength,
                    }, generation.ExecutionProvider);
                default:
                    throw new CocoonConfigurationException("Cocoon:Worker:Models", $"model '{model}' is a {verified.Manifest.Kind} model; this build serves embedding and text-generation models.");
            }
        }
        catch (Cocoon.Inference.InferenceException e)
        {
            throw new CocoonConfigurationException("Cocoon:Worker:Models", $"model '{model}' cannot start: {e.Message}", e);
        }
    }

    /// <summary>
    /// Runs the start-up calls to proxy-placed grains (deployment, lease): a worker-only silo that has just joined may
    /// not yet have its proxies' role metadata, and placement then refuses (<see cref="SiloUnavailableException"/>);
    /// those calls are idempotent, so they are retried for up to a minute before the start fails.
    /// </summary>
    private static async Task WhenProxyKnownAsync(Func<Task> calls, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (true)
        {
            try
            {
                await calls();
                return;
            }
            catch (SiloUnavailableException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
            }
        }
    }

    /// <summary>
    /// Publishes the receipt key and the current RA-TLS certificate's attestation document to the worker's lease grain
    /// (at start, then whenever the certificate rotated), so receipts can be checked back to the quote.
    /// </summary>
    private async Task PublishAttestationAsync(string workerId, bool force)
    {
        if (_receipts is null)
        {
            return;
        }

        var certificate = _attestation?.Rotator.Current;
        if (_current is null || certificate is not null && certificate.Thumbprint != _currentThumbprint)
        {
            var document = certificate is null ? "" : Cocoon.Gateway.AttestationDocument.Json(certificate, _attestation!.Source.Mode, _attestation.SimulatedRoot);
            _current = new WorkerAttestation(_receipts.PublicKeyHex, document);
            _currentThumbprint = certificate?.Thumbprint;
        }

        if (force || !_published.TryGetValue(workerId, out var published) || published != _current)
        {
            await grains.GetGrain<IWorkerLeaseGrain>(workerId).PublishAttestationAsync(_current);
            _published[workerId] = _current;
        }
    }

    private async Task RenewLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(LeaseTime / 3);
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            foreach (var (worker, _) in _running)
            {
                try
                {
                    await grains.GetGrain<IWorkerLeaseGrain>(worker.WorkerId).RenewAsync(worker.Registration, LeaseTime);
                    await PublishAttestationAsync(worker.WorkerId, force: false);
                }
                catch (Exception e) when (e is OrleansException or TimeoutException or Abstractions.CocoonApiException)
                {
                    // A missed renewal is retried at the next tick; the lease outlives two of them.
                    LogRenewFailed(worker.WorkerId, e.GetType().Name);
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId} serves {Model} on {Provider} ({Reason}), capacity {Capacity}")]
    private partial void LogServing(string workerId, string model, string provider, string reason, int capacity);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Worker {WorkerId} could not renew its lease ({Error}); retrying")]
    private partial void LogRenewFailed(string workerId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Worker {WorkerId} could not release its lease on stop ({Error}); it expires by itself")]
    private partial void LogReleaseFailed(string workerId, string error);
}
