using System.Reflection;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Inference;
using Cocoon.Abstractions.Models;
using Cocoon.Abstractions.Operations;
using Cocoon.Grains.Inference;
using Orleans.Concurrency;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace Cocoon.Grains.Cluster;

/// <summary>The operators' view of the cluster; see <see cref="IClusterAdminGrain"/>.</summary>
[StatelessWorker, Reentrant]
public sealed class ClusterAdminGrain(ISiloMetadataCache metadata) : Grain, IClusterAdminGrain
{
    private static readonly TimeSpan ReportTimeout = TimeSpan.FromSeconds(5);

    /// <inheritdoc />
    public async Task<IReadOnlyList<SiloOverview>> GetSilosAsync(bool includeDead, TimeSpan timeout)
    {
        var (silos, _) = await SurveyAsync(includeDead, timeout, []);
        return silos;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<WorkerStatus>> ListWorkersAsync()
    {
        var ids = await GrainFactory.GetGrain<IWorkerDirectoryGrain>(IWorkerDirectoryGrain.Key).ListAsync();
        var details = await Task.WhenAll(ids.Select(id => GrainFactory.GetGrain<IWorkerAdminGrain>(id).GetDetailsAsync()));
        var (silos, running) = await SurveyAsync(includeDead: false, ReportTimeout, ids);
        var names = silos.ToDictionary(s => s.Address, s => s.Name, StringComparer.Ordinal);
        return
        [
            .. details.OfType<WorkerDetails>().Select(d => new WorkerStatus
            {
                Details = d,
                Running = running.GetValueOrDefault(d.WorkerId),
                SiloName = names.GetValueOrDefault(d.Registration.SiloAddress),
            }),
        ];
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ModelStatus>> ListModelsAsync()
    {
        var names = await GrainFactory.GetGrain<IModelCatalogGrain>(IModelCatalogGrain.Key).ListAsync();
        var routes = await Task.WhenAll(names.Select(n => GrainFactory.GetGrain<IModelDeploymentGrain>(n).GetRoutesAsync()));
        return
        [
            .. routes.Where(r => r.Deployment is not null)
                .Select(r => new ModelStatus(r.Deployment!, [.. r.Workers.Select(w => w.WorkerId)])),
        ];
    }

    // Membership, then every active silo asked for its report at once (a silo that answers serves grain calls);
    // the requests the proxy silos have running per worker are summed, since each proxy routes on its own.
    private async Task<(List<SiloOverview> Silos, Dictionary<string, int> Running)> SurveyAsync(
        bool includeDead, TimeSpan timeout, IReadOnlyList<string> workers)
    {
        var hosts = await GrainFactory.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: false);
        var entries = hosts.Where(h => includeDead || h.Status != Orleans.Runtime.SiloStatus.Dead)
            .OrderBy(h => h.SiloName, StringComparer.Ordinal).ThenBy(h => h.StartTime).ToList();
        var reports = new Dictionary<MembershipEntry, Task<SiloReport>>();
        foreach (var entry in entries.Where(e => e.Status == Orleans.Runtime.SiloStatus.Active))
        {
            var address = entry.SiloAddress.ToParsableString();
            // The call carries the target silo in its request context, as calls to a worker's host do.
            RequestContext.Set(WorkerSiloPlacement.SiloKey, address);
            try
            {
                reports[entry] = GrainFactory.GetGrain<ISiloAdminGrain>(address).GetReportAsync(workers).WaitAsync(timeout);
            }
            finally
            {
                RequestContext.Remove(WorkerSiloPlacement.SiloKey);
            }
        }

        var silos = new List<SiloOverview>(entries.Count);
        var running = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            var status = new SiloOverview
            {
                Name = entry.SiloName,
                Address = entry.SiloAddress.ToParsableString(),
                Status = entry.Status.ToString(),
                StartedAt = new DateTimeOffset(DateTime.SpecifyKind(entry.StartTime, DateTimeKind.Utc)),
                LastAliveAt = new DateTimeOffset(DateTime.SpecifyKind(entry.IAmAliveTime, DateTimeKind.Utc)),
                Roles = RolesOf(entry.SiloAddress),
                Health = "down",
                Problem = entry.Status == Orleans.Runtime.SiloStatus.Active ? null : $"membership status {entry.Status}",
            };
            if (reports.TryGetValue(entry, out var pending))
            {
                try
                {
                    var report = await pending;
                    status = status with { Health = "ok", Report = report, Roles = report.Roles };
                    foreach (var (worker, count) in report.Running)
                    {
                        running[worker] = running.GetValueOrDefault(worker) + count;
                    }
                }
                catch (Exception e) when (e is TimeoutException or OrleansException)
                {
                    status = status with { Health = "unreachable", Problem = e is TimeoutException ? $"no answer within {timeout.TotalSeconds:0.#} s" : e.GetType().Name };
                }
            }

            silos.Add(status);
        }

        return (silos, running);
    }

    private string RolesOf(SiloAddress silo)
    {
        try
        {
            return metadata.GetSiloMetadata(silo).Metadata.GetValueOrDefault(CocoonNames.RoleMetadataKey, "");
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException)
        {
            return "";
        }
    }
}

/// <summary>A silo's report about itself; see <see cref="ISiloAdminGrain"/>.</summary>
[WorkerSilo, Reentrant]
public sealed class SiloAdminGrain(ILocalSiloDetails silo, ISiloMetadataCache metadata, LocalWorkers workers, RouteLoad load)
    : Grain, ISiloAdminGrain
{
    private static readonly string BuildVersion =
        typeof(SiloAdminGrain).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <inheritdoc />
    public Task<SiloReport> GetReportAsync(IReadOnlyList<string> runningOf)
    {
        var running = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var worker in runningOf)
        {
            if (load.Running(worker) is > 0 and var count)
            {
                running[worker] = count;
            }
        }

        return Task.FromResult(new SiloReport
        {
            Roles = metadata.GetSiloMetadata(silo.SiloAddress).Metadata.GetValueOrDefault(CocoonNames.RoleMetadataKey, ""),
            Version = BuildVersion,
            ProcessId = Environment.ProcessId,
            LocalWorkers = [.. workers.All.Select(w => w.WorkerId).Order(StringComparer.Ordinal)],
            Running = running,
            WorkingSetBytes = Environment.WorkingSet,
        });
    }
}
