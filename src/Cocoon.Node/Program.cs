using Cocoon.Node.Configuration;
using Cocoon.Node.Hosting;
using Cocoon.Node.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

// cocoon-node: runs one silo (`cocoon-node [--Cocoon:Roles proxy,worker] ...`) or applies the schema
// (`cocoon-node migrate`). Configuration: appsettings.json < environment (Cocoon__X__Y) < command line (--Cocoon:X:Y v).
try
{
    if (args is ["migrate", .. var rest])
    {
        var configuration = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine(rest)
            .Build();
        var connectionString = configuration["Cocoon:Storage:ConnectionString"];
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new CocoonConfigurationException("Cocoon:Storage:ConnectionString", "not set: give the database to migrate.");
        }

        var result = await SchemaMigrator.MigrateAsync(connectionString);
        foreach (var migration in result.Applied)
        {
            Console.WriteLine($"applied {migration.Name}");
        }

        Console.WriteLine($"schema is at version {result.CurrentVersion}");
        return 0;
    }

    using var host = await CocoonNode.BuildAsync(args, new CocoonNodeOptions { Progress = Console.Error.WriteLine });
    await host.RunAsync();
    return 0;
}
catch (CocoonConfigurationException e)
{
    Console.Error.WriteLine($"cocoon-node: configuration error: {e.Message}");
    return 2;
}
catch (SchemaMigrationException e)
{
    Console.Error.WriteLine($"cocoon-node: migration failed: {e.Message}");
    return 2;
}
