using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Cocoon.Abstractions;
using Cocoon.Client;
using Spectre.Console;

namespace Cocoon.Cli.Operations;

/// <summary>
/// What every operator command shares: the connection options, <c>--json</c>, and one way to fail: a single line
/// <c>cocoon NAME: message</c> on stderr with exit code 2 for a wrong command line and 1 for anything else.
/// </summary>
internal static class OperatorCommand
{
    /// <summary>JSON for scripts: camelCase, indented, enums as strings, no nulls left out (a field is always there).</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The <c>--json</c> option.</summary>
    public static Option<bool> JsonOption() => new("--json") { Description = "Print JSON for scripts instead of a table." };

    /// <summary>
    /// Makes <paramref name="command"/> an operator command: adds the connection options and runs
    /// <paramref name="body"/> with a connected client, turning failures into one line and an exit code.
    /// </summary>
    public static void SetClusterAction(Command command, string name, Func<ParseResult, CocoonClusterClient, CancellationToken, Task<int>> body)
    {
        var connection = new ClusterConnection();
        connection.AddTo(command);
        command.SetAction((parse, cancellationToken) => RunAsync(name, async () =>
        {
            await using var client = await connection.ConnectAsync(parse, cancellationToken);
            return await body(parse, client, cancellationToken);
        }));
    }

    /// <summary>Runs <paramref name="body"/>, turning the failures an operator can act on into one line and an exit code.</summary>
    public static async Task<int> RunAsync(string name, Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (CliUsageException e)
        {
            await Console.Error.WriteLineAsync($"cocoon {name}: {e.Message}");
            return 2;
        }
        catch (CliException e)
        {
            await Console.Error.WriteLineAsync($"cocoon {name}: {e.Message}");
            return 1;
        }
        catch (CocoonApiException e)
        {
            await Console.Error.WriteLineAsync($"cocoon {name}: {e.Message} ({e.Code})");
            return 1;
        }
        catch (Exception e) when (e is OrleansException or TimeoutException)
        {
            await Console.Error.WriteLineAsync($"cocoon {name}: the cluster did not answer: {e.Message.Split('\n')[0]}");
            return 1;
        }
    }

    /// <summary>Writes <paramref name="value"/> as JSON to stdout.</summary>
    public static void WriteJson(object value)
    {
        Console.Out.WriteLine(JsonSerializer.Serialize(value, Json));
        Console.Out.Flush();
    }

    /// <summary>A table with the given column headers, written by <see cref="Write"/>.</summary>
    public static Table Table(params string[] columns)
    {
        var table = new Table().Border(TableBorder.Rounded);
        foreach (var column in columns)
        {
            table.AddColumn(new TableColumn(Markup.Escape(column)));
        }

        return table;
    }

    /// <summary>Adds a row of plain (escaped) cells.</summary>
    public static void Row(Table table, params string?[] cells) => table.AddRow([.. cells.Select(c => new Text(c ?? "") as Spectre.Console.Rendering.IRenderable)]);

    /// <summary>Writes a renderable to stdout (plain text when output is redirected).</summary>
    public static void Write(Spectre.Console.Rendering.IRenderable renderable)
    {
        if (Console.IsOutputRedirected)
        {
            // Spectre assumes 80 columns when it cannot ask a terminal; a script grepping a row wants it on one line.
            AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 250);
        }

        AnsiConsole.Write(renderable);
    }

    /// <summary>A duration as <c>3d 4h</c>, <c>2h 5m</c>, <c>4m 10s</c> or <c>12s</c>.</summary>
    public static string Duration(TimeSpan span)
    {
        if (span < TimeSpan.Zero)
        {
            return "-" + Duration(-span);
        }

        return span.TotalDays >= 1 ? $"{(int)span.TotalDays}d {span.Hours}h"
            : span.TotalHours >= 1 ? $"{(int)span.TotalHours}h {span.Minutes}m"
            : span.TotalMinutes >= 1 ? $"{(int)span.TotalMinutes}m {span.Seconds}s"
            : $"{(int)span.TotalSeconds}s";
    }

    /// <summary>An instant as UTC ISO-8601 to the second.</summary>
    public static string Instant(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}

/// <summary>TON amounts: integer nanoTON inside, decimal TON on the command line (1 TON = 10^9 nanoTON).</summary>
internal static class TonAmount
{
    private const long NanoPerTon = 1_000_000_000;

    /// <summary>Parses <c>1</c>, <c>0.5</c>, <c>0.000000001</c> TON exactly into nanoTON; refuses more than 9 decimals, negatives and overflow.</summary>
    public static bool TryParse(string text, out long nanoTon)
    {
        nanoTon = 0;
        if (!decimal.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var ton))
        {
            return false;
        }

        var nano = ton * NanoPerTon;
        if (nano != decimal.Truncate(nano) || nano > long.MaxValue)
        {
            return false;
        }

        nanoTon = (long)nano;
        return true;
    }

    /// <summary>nanoTON as decimal TON without trailing zeros (<c>1.5</c>).</summary>
    public static string Format(long nanoTon)
    {
        var whole = nanoTon / NanoPerTon;
        var fraction = Math.Abs(nanoTon % NanoPerTon);
        var sign = nanoTon < 0 && whole == 0 ? "-" : "";
        return fraction == 0
            ? sign + whole.ToString(CultureInfo.InvariantCulture)
            : sign + whole.ToString(CultureInfo.InvariantCulture) + "." + fraction.ToString("D9", CultureInfo.InvariantCulture).TrimEnd('0');
    }
}
