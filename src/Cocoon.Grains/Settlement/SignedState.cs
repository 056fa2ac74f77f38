using Cocoon.Abstractions;

namespace Cocoon.Grains.Ledger;

/// <summary>Persisted state that carries its own sequence number and proxy signature (DESIGN section 2).</summary>
public interface ISignedState
{
    /// <summary>Incremented on every write; part of what is signed.</summary>
    long Seq { get; set; }

    /// <summary>The proxy key's Ed25519 signature over <see cref="WriteCanonical"/> (with the kind, key and seq).</summary>
    byte[]? Signature { get; set; }

    /// <summary>Writes every field that matters, in a fixed order, collections sorted by key.</summary>
    void WriteCanonical(CanonicalWriter writer);
}

/// <summary>Signing and checking of <see cref="ISignedState"/> rows.</summary>
public static class SignedStates
{
    /// <summary>Bumps the sequence number and signs the state; call right before writing it.</summary>
    public static void Seal(this StateSigner signer, string kind, string key, ISignedState state)
    {
        ArgumentNullException.ThrowIfNull(signer);
        ArgumentNullException.ThrowIfNull(state);
        state.Seq = checked(state.Seq + 1);
        state.Signature = signer.Sign(kind, key, state.Seq, Canonical(state));
    }

    /// <summary>
    /// Whether a stored row is what this proxy wrote: signature present and valid. A row that does not exist yet is
    /// trusted (it is the empty state).
    /// </summary>
    public static bool IsAuthentic(this StateSigner signer, string kind, string key, ISignedState state, bool recordExists)
    {
        ArgumentNullException.ThrowIfNull(signer);
        ArgumentNullException.ThrowIfNull(state);
        if (!recordExists)
        {
            return true;
        }

        return state.Signature is { Length: 64 } signature && state.Seq > 0 && signer.Verify(kind, key, state.Seq, Canonical(state), signature);
    }

    /// <summary>The error every call on a frozen grain gets (HTTP 403, <c>account_frozen</c>).</summary>
    public static CocoonApiException Frozen(string what) => new(403, "account_frozen",
        $"{what} is frozen: its stored state does not carry a valid proxy signature (it was changed outside the proxy, " +
        "e.g. edited in the database). Nothing is trusted or changed until an operator restores it.", type: "permission_error");

    private static byte[] Canonical(ISignedState state)
    {
        var w = new CanonicalWriter();
        state.WriteCanonical(w);
        return w.ToArray();
    }
}
