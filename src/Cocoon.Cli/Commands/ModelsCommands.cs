using System.CommandLine;
using System.Globalization;
using Cocoon.Abstractions.Models;
using Cocoon.Abstractions.Operations;
using Cocoon.Cli.Operations;

namespace Cocoon.Cli.Commands;

/// <summary>
/// <c>cocoon models list|deploy|enable|disable</c>: model deployments (DESIGN section 3). A deployment names the SHA-256
/// of the model file workers must load; a new hash drops workers that loaded another. A disabled model answers 404.
/// </summary>
internal static class ModelsCommands
{
    public static Command Create()
    {
        var command = new Command("models", "List, deploy, enable and disable models.");
        command.Subcommands.Add(CreateList());
        command.Subcommands.Add(CreateDeploy());
        command.Subcommands.Add(CreateSetEnabled("enable", true, "Accept requests for the model again."));
        command.Subcommands.Add(CreateSetEnabled("disable", false, "Refuse requests for the model (404) until it is enabled."));
        return command;
    }

    private static Command CreateList()
    {
        var json = OperatorCommand.JsonOption();
        var command = new Command("list", "Every deployed model, enabled or not, with its routable workers.") { json };
        OperatorCommand.SetClusterAction(command, "models list", async (parse, client, _) =>
        {
            var models = await client.Grains.GetGrain<IClusterAdminGrain>(0).ListModelsAsync();
            if (parse.GetValue(json))
            {
                OperatorCommand.WriteJson(new { models = models.Select(m => Describe(m.Deployment, m.Workers)) });
                return 0;
            }

            var table = OperatorCommand.Table("model", "kind", "enabled", "workers", "context", "sha256", "deployed");
            foreach (var m in models)
            {
                var d = m.Deployment;
                OperatorCommand.Row(table, d.Name, d.Kind, d.Enabled ? "yes" : "no", string.Join(", ", m.Workers),
                    d.ContextLength.ToString(CultureInfo.InvariantCulture), d.ModelHash, OperatorCommand.Instant(d.CreatedAt));
            }

            OperatorCommand.Write(table);
            return 0;
        });
        return command;
    }

    private static Command CreateDeploy()
    {
        var name = new Argument<string>("NAME") { Description = "The model's public name, as requests name it." };
        var sha256 = new Option<string>("--sha256") { Description = "SHA-256 (hex) of the model's ONNX file, as its manifest records it.", Required = true };
        var kind = new Option<string?>("--kind") { Description = $"{ModelKind.TextGeneration} (default for a new model) or {ModelKind.Embedding}." };
        kind.AcceptOnlyFromAmong(ModelKind.TextGeneration, ModelKind.Embedding);
        var context = new Option<int?>("--context-length") { Description = "Longest input in tokens (needed for a new model)." };
        var dimensions = new Option<int?>("--dimensions") { Description = "Embedding width, for embedding models." };
        var json = OperatorCommand.JsonOption();
        var command = new Command("deploy", "Create or update a model's deployment.") { name, sha256, kind, context, dimensions, json };
        OperatorCommand.SetClusterAction(command, "models deploy", async (parse, client, _) =>
        {
            var model = parse.GetValue(name)!;
            var hash = parse.GetValue(sha256)!.ToLowerInvariant();
            if (hash.Length != 64 || !hash.All(char.IsAsciiHexDigitLower))
            {
                throw new CliUsageException($"--sha256 {parse.GetValue(sha256)}: a SHA-256 is 64 hex digits.");
            }

            if (parse.GetValue(context) is < 1 || parse.GetValue(dimensions) is < 0)
            {
                throw new CliUsageException("--context-length is at least 1 and --dimensions is not negative.");
            }

            var existing = await client.Grains.GetGrain<IModelDeploymentGrain>(model).GetAsync();
            var contextLength = parse.GetValue(context) ?? existing?.ContextLength
                ?? throw new CliUsageException($"'{model}' is a new model: give its --context-length.");
            var deployment = await client.Grains.GetGrain<IModelAdminGrain>(model).DeployAsync(new ModelDeployment
            {
                Name = model,
                Kind = parse.GetValue(kind) ?? existing?.Kind ?? ModelKind.TextGeneration,
                ModelHash = hash,
                ContextLength = contextLength,
                Dimensions = parse.GetValue(dimensions) ?? existing?.Dimensions ?? 0,
            });
            Report(parse.GetValue(json), deployment, $"model {deployment.Name} deployed ({deployment.Kind}, sha256 {deployment.ModelHash}, {(deployment.Enabled ? "enabled" : "disabled")})");
            return 0;
        });
        return command;
    }

    private static Command CreateSetEnabled(string verb, bool enabled, string description)
    {
        var name = new Argument<string>("NAME") { Description = "The model's name." };
        var json = OperatorCommand.JsonOption();
        var command = new Command(verb, description) { name, json };
        OperatorCommand.SetClusterAction(command, "models " + verb, async (parse, client, _) =>
        {
            var deployment = await client.Grains.GetGrain<IModelAdminGrain>(parse.GetValue(name)!).SetEnabledAsync(enabled);
            Report(parse.GetValue(json), deployment, $"model {deployment.Name} is {(deployment.Enabled ? "enabled" : "disabled")}");
            return 0;
        });
        return command;
    }

    private static void Report(bool json, ModelDeployment deployment, string line)
    {
        if (json)
        {
            OperatorCommand.WriteJson(Describe(deployment, null));
        }
        else
        {
            Console.WriteLine(line);
        }
    }

    private static Dictionary<string, object?> Describe(ModelDeployment d, IReadOnlyList<string>? workers)
    {
        var fields = new Dictionary<string, object?>
        {
            ["name"] = d.Name,
            ["kind"] = d.Kind,
            ["enabled"] = d.Enabled,
            ["sha256"] = d.ModelHash,
            ["contextLength"] = d.ContextLength,
            ["dimensions"] = d.Dimensions,
            ["createdAt"] = d.CreatedAt,
        };
        if (workers is not null)
        {
            fields["workers"] = workers;
        }

        return fields;
    }
}
