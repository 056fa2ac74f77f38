using System.CommandLine;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Cocoon.Attestation.Verification;
using Cocoon.Client;

namespace Cocoon.Cli.Operations;

/// <summary>
/// How an operator command reaches the cluster: as an Orleans client (<see cref="CocoonClusterClient"/>). By default it
/// reads the devnet's <c>DIR/devnet.json</c> (<c>--data-dir</c>, as <c>cocoon devnet</c> takes it): cluster id,
/// client gateway, and the devnet's simulated attestation root and image hash for TLS to its silo. For a deployment,
/// <c>--cluster-id</c> with <c>--membership</c> (the cluster's PostgreSQL) or <c>--gateway HOST:PORT</c>, and
/// <c>--image-hash</c> for TLS to attested silos. One place, so every command connects alike.
/// </summary>
internal sealed class ClusterConnection
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(30);

    public Option<string> DataDir { get; } = new("--data-dir")
    {
        Description = "The devnet's folder, whose devnet.json says how to reach it (default ~/.cocoon/devnet).",
        DefaultValueFactory = _ => DefaultDataDir,
    };

    public Option<string?> ClusterId { get; } = new("--cluster-id")
    {
        Description = "A deployment's cluster id (Cocoon:ClusterId); with --membership or --gateway instead of a devnet.",
    };

    public Option<string?> ServiceId { get; } = new("--service-id") { Description = "The deployment's service id (default: the cluster id)." };

    public Option<string?> Membership { get; } = new("--membership")
    {
        Description = "Npgsql connection string of the cluster's database: silos' client gateways are found in its membership table.",
    };

    public Option<string[]> Gateways { get; } = new("--gateway")
    {
        Description = "A silo's client gateway endpoint HOST:PORT (repeatable), instead of --membership.",
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<string[]> ImageHashes { get; } = new("--image-hash")
    {
        Description = "Connect over TLS only to silos whose RA-TLS quote attests this image hash (repeatable; production quotes only).",
    };

    public static string DefaultDataDir => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cocoon", "devnet");

    /// <summary>Adds the connection options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(DataDir);
        command.Options.Add(ClusterId);
        command.Options.Add(ServiceId);
        command.Options.Add(Membership);
        command.Options.Add(Gateways);
        command.Options.Add(ImageHashes);
    }

    /// <summary>Connects, or throws <see cref="CliException"/> saying why not.</summary>
    public async Task<CocoonClusterClient> ConnectAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var options = Resolve(parse);
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        patience.CancelAfter(ConnectTimeout);
        try
        {
            return await CocoonClusterClient.ConnectAsync(options.Client, patience.Token);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is OperationCanceledException or OrleansException or TimeoutException)
        {
            throw new CliException($"could not connect to cluster '{options.Client.ClusterId}' through {options.Where} within {ConnectTimeout.TotalSeconds:0} s" +
                                   (e is OperationCanceledException ? "" : $" ({e.Message})") + ".");
        }
    }

    /// <summary>The client options the command line asks for.</summary>
    public (CocoonClientOptions Client, string Where) Resolve(ParseResult parse)
    {
        var clusterId = parse.GetValue(ClusterId);
        var membership = parse.GetValue(Membership);
        var gateways = parse.GetValue(Gateways) ?? [];
        var imageHashes = parse.GetValue(ImageHashes) ?? [];
        if (clusterId is null && (membership is not null || gateways.Length > 0 || imageHashes.Length > 0))
        {
            throw new CliUsageException("--membership, --gateway and --image-hash are for a deployment: give its --cluster-id too.");
        }

        if (clusterId is not null)
        {
            if (membership is null && gateways.Length == 0)
            {
                throw new CliUsageException("--cluster-id needs --membership CONNECTION_STRING or --gateway HOST:PORT.");
            }

            foreach (var hash in imageHashes)
            {
                if (hash.Length != 64 || !hash.All(char.IsAsciiHexDigit))
                {
                    throw new CliUsageException($"--image-hash {hash}: an image hash is 64 hex digits.");
                }
            }

            var client = new CocoonClientOptions
            {
                ClusterId = clusterId,
                ServiceId = parse.GetValue(ServiceId) ?? clusterId,
                MembershipConnectionString = membership,
                Gateways = [.. gateways.Select(g => ParseEndpoint(g, "--gateway"))],
                Tls = imageHashes.Length == 0 ? null : new CocoonClientTls { Mode = AttestationMode.Production, AllowedImageHashes = [.. imageHashes.Select(h => h.ToLowerInvariant())] },
                OperatorToken = OperatorTokenFromEnvironment(),
            };
            return (client, membership is not null ? "the membership table" : string.Join(", ", gateways));
        }

        var devnet = DevnetEndpoint.Read(parse.GetValue(DataDir)!);
        var devnetOptions = devnet.ToClientOptions();
        var devnetToken = Path.Combine(Path.GetFullPath(parse.GetValue(DataDir)!), "operator-token");
        devnetOptions = devnetOptions with
        {
            OperatorToken = OperatorTokenFromEnvironment() ?? (System.IO.File.Exists(devnetToken) ? System.IO.File.ReadAllText(devnetToken).Trim() : null),
        };
        return (devnetOptions, $"the devnet's gateway {devnet.OrleansGateway}");
    }

    /// <summary>
    /// The operator token the silos check (<c>Cocoon:Operators:TokenSha256</c> holds its SHA-256): from
    /// <c>COCOON_OPERATOR_TOKEN</c>, or the file <c>COCOON_OPERATOR_TOKEN_FILE</c> names; a devnet's is in
    /// <c>DIR/operator-token</c>. Not a command-line option, so it stays out of process listings and shell history.
    /// </summary>
    private static string? OperatorTokenFromEnvironment()
    {
        if (Environment.GetEnvironmentVariable("COCOON_OPERATOR_TOKEN") is { Length: > 0 } token)
        {
            return token.Trim();
        }

        if (Environment.GetEnvironmentVariable("COCOON_OPERATOR_TOKEN_FILE") is { Length: > 0 } file)
        {
            try
            {
                return System.IO.File.ReadAllText(file).Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"COCOON_OPERATOR_TOKEN_FILE {file} cannot be read ({e.Message}).");
            }
        }

        return null;
    }

    internal static IPEndPoint ParseEndpoint(string text, string option)
    {
        if (IPEndPoint.TryParse(text, out var endpoint) && endpoint.Port > 0)
        {
            return endpoint;
        }

        var colon = text.LastIndexOf(':');
        if (colon > 0 && int.TryParse(text[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536)
        {
            try
            {
                var address = Dns.GetHostAddresses(text[..colon]).FirstOrDefault()
                    ?? throw new CliUsageException($"{option} {text}: the host has no address.");
                return new IPEndPoint(address, port);
            }
            catch (System.Net.Sockets.SocketException e)
            {
                throw new CliUsageException($"{option} {text}: {e.Message}");
            }
        }

        throw new CliUsageException($"{option} {text}: expected HOST:PORT.");
    }
}

/// <summary>What <c>DIR/devnet.json</c> says about reaching a running devnet as an operator.</summary>
internal sealed record DevnetEndpoint(
    string File,
    string Gateway,
    string ApiKey,
    string ClusterId,
    string ServiceId,
    string OrleansGateway,
    string? AuthorityFile,
    string? ImageHash)
{
    public static DevnetEndpoint Read(string dataDir)
    {
        var file = Path.Combine(Path.GetFullPath(dataDir), "devnet.json");
        if (!System.IO.File.Exists(file))
        {
            throw new CliException($"no devnet is running with --data-dir {Path.GetDirectoryName(file)} ({file} is missing): " +
                                   "start one with 'cocoon devnet', or name a deployment with --cluster-id and --membership.");
        }

        try
        {
            using var json = JsonDocument.Parse(System.IO.File.ReadAllText(file));
            var root = json.RootElement;
            string? Text(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            var orleansGateway = Text("orleansGateway")
                ?? throw new CliException($"{file} has no 'orleansGateway': the devnet was started by an older cocoon; restart it.");
            return new DevnetEndpoint(
                file,
                Text("gateway") ?? throw new CliException($"{file} has no 'gateway'."),
                Text("apiKey") ?? "",
                Text("clusterId") ?? "devnet",
                Text("serviceId") ?? "devnet",
                orleansGateway,
                Text("authorityFile"),
                Text("imageHash"));
        }
        catch (JsonException e)
        {
            throw new CliException($"{file} is not valid JSON ({e.Message}).");
        }
    }

    public CocoonClientOptions ToClientOptions()
    {
        CocoonClientTls? tls = null;
        if (AuthorityFile is not null && ImageHash is not null)
        {
            X509Certificate2 root;
            try
            {
                root = X509Certificate2.CreateFromPem(System.IO.File.ReadAllText(AuthorityFile));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
            {
                throw new CliException($"the devnet's simulated attestation root {AuthorityFile} cannot be read ({e.Message}).");
            }

            tls = new CocoonClientTls { Mode = AttestationMode.Devnet, AllowedImageHashes = [ImageHash], SimulatedRoot = root };
        }

        return new CocoonClientOptions
        {
            ClusterId = ClusterId,
            ServiceId = ServiceId,
            Gateways = [ClusterConnection.ParseEndpoint(OrleansGateway, "orleansGateway in " + File)],
            Tls = tls,
        };
    }
}

/// <summary>A command failed; the message is one line for stderr (exit code 1).</summary>
internal class CliException(string message) : Exception(message);

/// <summary>The command line is wrong; the message is one line for stderr (exit code 2).</summary>
internal sealed class CliUsageException(string message) : CliException(message);
