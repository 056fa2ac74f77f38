using Cocoon.Ton.Addresses;
using Cocoon.Ton.Cells;
using Cocoon.Ton.Crypto;

namespace Cocoon.Ton.Settlement;

/// <summary>
/// Opcodes of the proxy-signed settlement messages (TelegramMessenger/cocoon runners/smartcontracts/Opcodes.hpp,
/// as listed in shared/reference/cocoon.md and ton-and-tdx.md section 3).
/// </summary>
public enum SettlementOp : uint
{
    /// <summary><c>ext_worker_payout_request_signed</c>: pay a worker for tokens processed.</summary>
    WorkerPayout = 0xa040ad28,

    /// <summary><c>ext_worker_last_payout_request_signed</c>: the final payout of a worker contract.</summary>
    WorkerLastPayout = 0xf5f26a36,

    /// <summary><c>ext_client_charge_signed</c>: charge a client escrow for tokens used.</summary>
    ClientCharge = 0xbb63ff93,

    /// <summary><c>ext_client_grant_refund_signed</c>: let a client close and take back its balance.</summary>
    ClientGrantRefund = 0xefd711e1,
}

/// <summary>
/// The signed inner payload of DESIGN section 6: <c>op:32 qid:64 tokens:64 target:MsgAddressInt</c>, where the
/// target is the contract that must act on it (its own address is checked on chain).
/// </summary>
public sealed record SettlementPayload(SettlementOp Op, ulong QueryId, ulong Tokens, TonAddress Target)
{
    /// <summary>The payload cell; its representation hash is what the proxy key signs.</summary>
    public Cell ToCell() =>
        new CellBuilder().StoreUInt((uint)Op, 32).StoreUInt(QueryId, 64).StoreUInt(Tokens, 64).StoreAddress(Target).EndCell();

    /// <summary>Reads a payload cell, refusing leftover bits or references.</summary>
    public static SettlementPayload Parse(Cell cell)
    {
        ArgumentNullException.ThrowIfNull(cell);
        var s = cell.BeginParse();
        var payload = new SettlementPayload((SettlementOp)s.LoadUInt(32), s.LoadUInt(64), s.LoadUInt(64), s.LoadAddress());
        s.EndParse();
        return payload;
    }
}

/// <summary>
/// A signed settlement message as the contracts receive it: <c>op:32 qid:64 excesses:MsgAddress signature:512
/// ^payload</c> (cocoon BaseRunner.cpp sign_and_wrap_message). Anyone may re-wrap it with another excesses address.
/// </summary>
public sealed record SignedSettlement(SettlementPayload Payload, ReadOnlyMemory<byte> Signature, TonAddress? ExcessesAddress)
{
    /// <summary>The wrapper cell sent to the contract.</summary>
    public Cell ToCell() =>
        new CellBuilder().StoreUInt((uint)Payload.Op, 32).StoreUInt(Payload.QueryId, 64).StoreAddress(ExcessesAddress)
            .StoreBytes(Signature.Span).StoreRef(Payload.ToCell()).EndCell();

    /// <summary>The same signed payload with another excesses address (cocoon repack_signed_pay_message).</summary>
    public SignedSettlement Rewrap(TonAddress? excessesAddress) => this with { ExcessesAddress = excessesAddress };

    /// <summary>Reads a wrapper cell. Structure only; call <see cref="SettlementVerifier.Verify"/> to check it.</summary>
    public static SignedSettlement Parse(Cell cell)
    {
        ArgumentNullException.ThrowIfNull(cell);
        var s = cell.BeginParse();
        var op = (SettlementOp)s.LoadUInt(32);
        var qid = s.LoadUInt(64);
        var excesses = s.LoadMaybeAddress();
        var signature = s.LoadBytes(64);
        var payload = SettlementPayload.Parse(s.LoadRef());
        s.EndParse();
        if (payload.Op != op || payload.QueryId != qid)
        {
            throw new FormatException("wrapper op or query id differs from the signed payload");
        }

        return new SignedSettlement(payload, signature, excesses);
    }
}

/// <summary>Signs settlement payloads with the proxy key. The escrow and settlement grains depend on this.</summary>
public interface ISettlementSigner
{
    /// <summary>The Ed25519 public key contracts hold as <c>proxy_public_key</c>.</summary>
    ReadOnlyMemory<byte> PublicKey { get; }

    /// <summary>Signs the payload's cell hash and wraps it with the excesses address.</summary>
    ValueTask<SignedSettlement> SignAsync(SettlementPayload payload, TonAddress? excessesAddress, CancellationToken cancellationToken = default);
}

/// <summary>An <see cref="ISettlementSigner"/> over an in-process Ed25519 key.</summary>
public sealed class Ed25519SettlementSigner(Ed25519KeyPair key) : ISettlementSigner, IDisposable
{
    /// <inheritdoc />
    public ReadOnlyMemory<byte> PublicKey => key.PublicKey;

    /// <summary>Signs synchronously.</summary>
    public SignedSettlement Sign(SettlementPayload payload, TonAddress? excessesAddress)
    {
        ArgumentNullException.ThrowIfNull(payload);
        return new SignedSettlement(payload, key.Sign(payload.ToCell().Hash()), excessesAddress);
    }

    /// <inheritdoc />
    public ValueTask<SignedSettlement> SignAsync(SettlementPayload payload, TonAddress? excessesAddress, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Sign(payload, excessesAddress));
    }

    /// <inheritdoc />
    public void Dispose() => key.Dispose();
}

/// <summary>Why a signed settlement was refused, or <see cref="Valid"/>.</summary>
public enum SettlementCheck
{
    /// <summary>All checks passed.</summary>
    Valid,

    /// <summary>The cell is not a well-formed wrapper (including op or qid differing from the payload, or leftover bits).</summary>
    Malformed,

    /// <summary>The op is not the one the contract expects.</summary>
    WrongOp,

    /// <summary>The payload names another contract.</summary>
    WrongTarget,

    /// <summary>The signature does not verify under the proxy key.</summary>
    BadSignature,
}

/// <summary>
/// The off-chain mirror of the contracts' <c>check_signed_pay_message</c> (cocoon WorkerContract.cpp): op and qid
/// equal in wrapper and payload, nothing left over, target equal to the contract's own address, and an Ed25519
/// signature by <c>proxy_public_key</c> over the payload cell hash.
/// </summary>
public static class SettlementVerifier
{
    /// <summary>Checks a wrapper cell as the contract at <paramref name="contractAddress"/> would.</summary>
    public static SettlementCheck Verify(Cell wrapper, ReadOnlySpan<byte> proxyPublicKey, TonAddress contractAddress, SettlementOp expectedOp)
    {
        SignedSettlement signed;
        try
        {
            signed = SignedSettlement.Parse(wrapper);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            return SettlementCheck.Malformed;
        }

        if (signed.Payload.Op != expectedOp)
        {
            return SettlementCheck.WrongOp;
        }

        if (!signed.Payload.Target.Equals(contractAddress))
        {
            return SettlementCheck.WrongTarget;
        }

        return Ed25519KeyPair.Verify(proxyPublicKey, signed.Payload.ToCell().Hash(), signed.Signature.Span)
            ? SettlementCheck.Valid
            : SettlementCheck.BadSignature;
    }
}
