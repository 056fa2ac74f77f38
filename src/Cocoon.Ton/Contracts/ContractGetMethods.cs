using System.Numerics;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Toncenter;
using Cocoon.Ton.Wallets;

namespace Cocoon.Ton.Contracts;

/// <summary>A get-method of a Cocoon contract failed or answered with another stack than its contract declares.</summary>
public sealed class ContractGetMethodException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ContractGetMethodException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public ContractGetMethodException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public ContractGetMethodException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for a get-method call.</summary>
    public ContractGetMethodException(TonAddress address, string method, string problem, int? exitCode = null)
        : base($"{method} on {address.ToFriendlyString()}: {problem}")
    {
        Address = address;
        Method = method;
        ExitCode = exitCode;
    }

    /// <summary>The contract.</summary>
    public TonAddress? Address { get; }

    /// <summary>The get-method.</summary>
    public string Method { get; } = string.Empty;

    /// <summary>The TVM exit code when the method failed (-13: the account has no code, i.e. is not deployed).</summary>
    public int? ExitCode { get; }
}

/// <summary>Runs get-methods through toncenter and reads their TVM stacks; shared by the contract wrappers.</summary>
public static class ContractGetMethods
{
    /// <summary>Runs <paramref name="method"/> and returns its stack, which must hold at least <paramref name="count"/> entries.</summary>
    /// <exception cref="ContractGetMethodException">A non-zero exit code or a short stack.</exception>
    public static async Task<IReadOnlyList<TvmStackEntry>> RunAsync(ToncenterClient client, TonAddress address, string method, int count, IReadOnlyList<TvmStackEntry>? arguments = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(address);
        var r = await client.RunGetMethodAsync(address, method, arguments, cancellationToken).ConfigureAwait(false);
        if (r.ExitCode is not (0 or 1))
        {
            var why = r.ExitCode == -13 ? "the account has no code (not deployed)" : $"exit code {r.ExitCode} ({ContractErrors.Describe(r.ExitCode)})";
            throw new ContractGetMethodException(address, method, why, r.ExitCode);
        }

        if (r.Stack.Count < count)
        {
            throw new ContractGetMethodException(address, method, $"returned {r.Stack.Count} stack entries, expected {count}");
        }

        return r.Stack;
    }

    /// <summary>Runs a get-method that returns one integer.</summary>
    public static async Task<BigInteger> RunIntAsync(ToncenterClient client, TonAddress address, string method, IReadOnlyList<TvmStackEntry>? arguments = null, CancellationToken cancellationToken = default)
    {
        var stack = await RunAsync(client, address, method, 1, arguments, cancellationToken).ConfigureAwait(false);
        return Number(stack[0], address, method);
    }

    /// <summary>An integer entry, or a clear error.</summary>
    public static BigInteger Number(TvmStackEntry entry, TonAddress address, string method)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return entry.Kind == TvmStackKind.Number
            ? entry.Number
            : throw new ContractGetMethodException(address, method, $"expected an integer on the stack, found {entry.Kind}");
    }

    /// <summary>An address held in a slice (or cell) entry.</summary>
    public static TonAddress Address(TvmStackEntry entry, TonAddress address, string method)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Kind is not (TvmStackKind.Slice or TvmStackKind.Cell) || entry.Cell is null)
        {
            throw new ContractGetMethodException(address, method, $"expected an address slice on the stack, found {entry.Kind}");
        }

        try
        {
            return entry.Cell.BeginParse().LoadAddress();
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            throw new ContractGetMethodException($"{method} on {address.ToFriendlyString()}: the slice is not an address ({e.Message})", e);
        }
    }

    /// <summary>A stack argument holding an address as a slice (<c>MsgAddressInt</c>).</summary>
    public static TvmStackEntry AddressArgument(TonAddress address) => TvmStackEntry.FromSlice(new Cells.CellBuilder().StoreAddress(address).EndCell());

    /// <summary>A stack argument holding a 256-bit hash as an unsigned integer.</summary>
    public static TvmStackEntry HashArgument(ReadOnlySpan<byte> hash) => TvmStackEntry.FromNumber(UInt256(hash, nameof(hash)));

    /// <summary>A 32-byte big-endian value as an unsigned integer.</summary>
    public static BigInteger UInt256(ReadOnlySpan<byte> bytes, string paramName)
    {
        if (bytes.Length != 32)
        {
            throw new ArgumentException("must be 32 bytes", paramName);
        }

        return new BigInteger(bytes, isUnsigned: true, isBigEndian: true);
    }

    /// <summary>An unsigned integer below 2^256 as 32 big-endian bytes.</summary>
    public static byte[] ToBytes256(BigInteger value)
    {
        if (value.Sign < 0 || value.GetBitLength() > 256)
        {
            throw new FormatException($"{value} does not fit 256 unsigned bits");
        }

        var bytes = new byte[32];
        value.TryWriteBytes(bytes.AsSpan(32 - value.GetByteCount(isUnsigned: true)), out _, isUnsigned: true, isBigEndian: true);
        return bytes;
    }

    /// <summary>
    /// An internal message from a wallet to a contract, paying transfer fees separately from <paramref name="value"/>
    /// (mode 1; v5r1 adds +2). Bouncing by default, so a refused message returns its value to the wallet.
    /// </summary>
    public static WalletMessage ToContract(TonAddress destination, BigInteger value, Cells.Cell body, StateInit? init = null, bool bounce = true)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(body);
        if (value.Sign <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(value), "a message to a contract carries at least 1 nanoTON");
        }

        return new WalletMessage(new InternalMessage(destination, value, bounce, body, init), SendMode.PayGasSeparately);
    }
}
