namespace Cocoon.Attestation.Providers;

/// <summary>Produces TDX quotes over caller-chosen REPORTDATA (DESIGN.md section 7 "Quote providers").</summary>
public interface IQuoteProvider
{
    /// <summary>True for the devnet provider, whose quotes production verifiers refuse.</summary>
    bool IsSimulated { get; }

    /// <summary>A quote whose TD report carries <paramref name="reportData"/> (exactly 64 bytes) as REPORTDATA.</summary>
    ValueTask<byte[]> GetQuoteAsync(ReadOnlyMemory<byte> reportData, CancellationToken cancellationToken = default);
}

/// <summary>A quote provider could not produce a quote (no TDX, configfs-tsm missing, kernel error).</summary>
public sealed class QuoteProviderException : Exception
{
    public QuoteProviderException()
    {
    }

    public QuoteProviderException(string message)
        : base(message)
    {
    }

    public QuoteProviderException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
