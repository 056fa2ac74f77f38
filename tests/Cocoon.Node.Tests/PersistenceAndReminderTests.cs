using Cocoon.Testing;

namespace Cocoon.Node.Tests;

public sealed class PersistenceAndReminderTests(PostgresFixture postgres)
{
    [Fact]
    public async Task State_written_on_one_silo_is_read_by_another_after_the_first_stops()
    {
        var db = await postgres.CreateDatabaseAsync("persist");
        var cluster = "persist-" + Guid.NewGuid().ToString("N")[..8];
        await using var a = await CocoonTestNode.StartAsync(cluster, "proxy", db, "silo-a");
        await using var b = await CocoonTestNode.StartAsync(cluster, "proxy,worker", db, "silo-b");

        var key = "counter-" + Guid.NewGuid();
        CounterSnapshot last = null!;
        for (var i = 0; i < 3; i++)
        {
            last = await a.Grains.GetGrain<ICounterGrain>(key).IncrementAsync();
        }

        Assert.Equal(new CounterSnapshot(3, "silo-a"), last);
        Assert.Equal(1, await PostgresFixture.ScalarAsync<int>(db, "SELECT count(*) FROM orleans_storage WHERE grain_type LIKE '%counter%'"));

        await a.StopAsync();
        var read = await b.Grains.GetGrain<ICounterGrain>(key).GetAsync();

        Assert.Equal(new CounterSnapshot(3, "silo-b"), read);
    }

    [Fact]
    public async Task A_reminder_fires_on_a_new_silo_after_the_silo_that_registered_it_stopped()
    {
        var db = await postgres.CreateDatabaseAsync("remind");
        var cluster = "remind-" + Guid.NewGuid().ToString("N")[..8];
        var key = "alarm-" + Guid.NewGuid();
        var fired = AlarmSignals.For(key);

        await using (var first = await CocoonTestNode.StartAsync(cluster, "proxy", db, "first", configureSilo: ShortReminders))
        {
            // Due long enough after registration that the first silo is gone before the first tick.
            await first.Grains.GetGrain<IAlarmGrain>(key).ArmAsync(TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(5));
            Assert.Equal(1, await PostgresFixture.ScalarAsync<int>(db, $"SELECT count(*) FROM orleans_reminders WHERE grain_id LIKE '%{key}%'"));
            await first.StopAsync();
        }

        Assert.False(fired.Task.IsCompleted);
        await using var second = await CocoonTestNode.StartAsync(cluster, "proxy", db, "second", configureSilo: ShortReminders);

        var silo = await fired.Task.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        Assert.Equal("second", silo);
    }

    // Production keeps Orleans's one-minute minimum reminder period; tests shorten it so they do not wait.
    private static void ShortReminders(ISiloBuilder silo) =>
        silo.Configure<Orleans.Hosting.ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
}
