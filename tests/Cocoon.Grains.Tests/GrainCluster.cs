using Cocoon.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

[assembly: AssemblyFixture(typeof(Cocoon.Grains.Tests.GrainCluster))]

namespace Cocoon.Grains.Tests;

/// <summary>
/// One proxy silo on PostgreSQL whose clock is a <see cref="FakeTimeProvider"/> the tests move, and whose reminders
/// may tick every second, so expiry is tested without waiting minutes. Tests use unique grain keys.
/// </summary>
public sealed class GrainCluster : IAsyncLifetime
{
    private readonly PostgresFixture _postgres = new();

    public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    public CocoonTestNode Node { get; private set; } = null!;

    public IGrainFactory Grains => Node.Grains;

    public string ConnectionString { get; private set; } = "";

    public string ClusterId { get; } = "grains-" + Guid.NewGuid().ToString("N")[..8];

    public async ValueTask InitializeAsync()
    {
        await _postgres.InitializeAsync();
        ConnectionString = await _postgres.CreateDatabaseAsync("grains");
        Node = await CocoonTestNode.StartAsync(ClusterId, "proxy", ConnectionString, "proxy",
            configureSilo: silo =>
            {
                silo.Services.AddKeyedSingleton<TimeProvider>(CocoonGrainsExtensions.ClockKey, Clock);
                silo.Configure<Orleans.Hosting.ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
            });
    }

    public async ValueTask DisposeAsync()
    {
        if (Node is not null)
        {
            await Node.DisposeAsync();
        }

        await _postgres.DisposeAsync();
    }
}
