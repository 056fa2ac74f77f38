using Cocoon.Abstractions.Receipts;
using Cocoon.Ton.Crypto;

namespace Cocoon.Grains.Inference;

/// <summary>
/// The worker's receipt key: an Ed25519 key generated in memory when the node starts (inside the TEE in production),
/// never stored. Its public half goes into the node's RA-TLS claims as <c>receipt-key</c>, so the quote binds it to the
/// attested image; the inference host grain signs every request's <see cref="InferenceReceipt"/> with it.
/// </summary>
public sealed class ReceiptSigner : IDisposable
{
    /// <summary>The RA-TLS claim that carries the public key (hex).</summary>
    public const string ClaimName = "receipt-key";

    private readonly Ed25519KeyPair _key = Ed25519KeyPair.Generate();

    /// <summary>The public key, lower-case hex.</summary>
    public string PublicKeyHex => Convert.ToHexStringLower(_key.PublicKey);

    /// <summary>Sets the worker key and signs.</summary>
    public InferenceReceipt Sign(InferenceReceipt receipt)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        var keyed = receipt with { WorkerKey = PublicKeyHex, Signature = "" };
        return keyed with { Signature = Convert.ToHexStringLower(_key.Sign(keyed.SignedBytes())) };
    }

    /// <inheritdoc />
    public void Dispose() => _key.Dispose();
}
