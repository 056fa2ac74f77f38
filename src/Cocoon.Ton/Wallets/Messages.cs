using System.Numerics;
using System.Text;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Cells;

namespace Cocoon.Ton.Wallets;

/// <summary>Send-mode flags of <c>action_send_msg</c> (docs.ton.org "message modes"; ton-core SendMode.ts).</summary>
[Flags]
public enum SendMode
{
    /// <summary>Ordinary message, fees taken from the value.</summary>
    None = 0,

    /// <summary>+1: pay transfer fees separately from the value.</summary>
    PayGasSeparately = 1,

    /// <summary>+2: ignore errors while processing this action.</summary>
    IgnoreErrors = 2,

    /// <summary>+16: bounce the transaction if the action fails.</summary>
    BounceIfActionFails = 16,

    /// <summary>+32: destroy the account if its balance reaches zero.</summary>
    DestroyIfZero = 32,

    /// <summary>+64: carry the remaining value of the inbound message.</summary>
    CarryRemainingValue = 64,

    /// <summary>+128: carry the whole remaining balance.</summary>
    CarryAllBalance = 128,
}

/// <summary>
/// An internal message as a wallet sends it (<c>MessageRelaxed</c> with <c>int_msg_info$0</c>, tblkch.pdf 3.1.7):
/// ihr_disabled, no source (the wallet fills it in), zero fees and times, as ton-core's <c>internal()</c> makes it.
/// </summary>
/// <param name="Destination">Where the funds go.</param>
/// <param name="Value">Amount in nanotons.</param>
/// <param name="Bounce">Whether the message bounces back on error.</param>
/// <param name="Body">Message body (null for an empty body).</param>
/// <param name="Init">StateInit to deploy at the destination, if any.</param>
public sealed record InternalMessage(TonAddress Destination, BigInteger Value, bool Bounce, Cell? Body = null, StateInit? Init = null)
{
    /// <summary>The body of a text comment: op 0 then the UTF-8 text, continued in a chain of references.</summary>
    public static Cell TextComment(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var builder = new CellBuilder().StoreUInt(0, 32);
        StoreStringTail(builder, Encoding.UTF8.GetBytes(text));
        return builder.EndCell();
    }

    /// <summary>Writes bytes into the builder, continuing in a chain of references when they do not fit (ton-core writeString).</summary>
    public static void StoreStringTail(CellBuilder builder, ReadOnlySpan<byte> bytes)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (bytes.Length == 0)
        {
            return;
        }

        var fit = builder.AvailableBits / 8;
        if (bytes.Length <= fit)
        {
            builder.StoreBytes(bytes);
            return;
        }

        builder.StoreBytes(bytes[..fit]);
        var next = new CellBuilder();
        StoreStringTail(next, bytes[fit..]);
        builder.StoreRef(next.EndCell());
    }

    /// <summary>Reads a text comment body written by <see cref="TextComment"/>; null when the body is not one.</summary>
    public static string? ReadTextComment(Cell body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var s = body.BeginParse();
        if (s.RemainingBits < 32 || s.LoadUInt(32) != 0)
        {
            return null;
        }

        var bytes = new List<byte>();
        while (true)
        {
            if (s.RemainingBits % 8 != 0 || s.RemainingRefs > 1)
            {
                return null;
            }

            bytes.AddRange(s.LoadBytes(s.RemainingBits / 8));
            if (s.RemainingRefs == 0)
            {
                return Encoding.UTF8.GetString([.. bytes]);
            }

            s = s.LoadRef().BeginParse();
        }
    }

    /// <summary>Writes this message (ton-core storeMessageRelaxed, including its inline-or-reference choices).</summary>
    public CellBuilder Store(CellBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);

        // int_msg_info$0 ihr_disabled:Bool bounce:Bool bounced:Bool src:MsgAddress dest:MsgAddressInt
        //   value:CurrencyCollection ihr_fee:Coins fwd_fee:Coins created_lt:uint64 created_at:uint32
        builder.StoreBit(false).StoreBit(true).StoreBit(Bounce).StoreBit(false)
            .StoreAddressNone().StoreAddress(Destination)
            .StoreCoins(Value).StoreBit(false) // no extra currencies
            .StoreCoins(0).StoreCoins(0).StoreUInt(0, 64).StoreUInt(0, 32);
        if (Init is null)
        {
            builder.StoreBit(false);
        }
        else
        {
            builder.StoreBit(true);
            var init = Init.ToCell();
            if (builder.AvailableBits - 2 >= init.BitLength && builder.AvailableRefs >= init.RefsArray.Length + 1)
            {
                builder.StoreBit(false).StoreCellContents(init);
            }
            else
            {
                builder.StoreBit(true).StoreRef(init);
            }
        }

        var body = Body ?? Cell.Empty;
        if (builder.AvailableBits - 1 >= body.BitLength && builder.RefCount + body.RefsArray.Length <= 4 && !body.IsExotic)
        {
            builder.StoreBit(false).StoreCellContents(body);
        }
        else
        {
            builder.StoreBit(true).StoreRef(body);
        }

        return builder;
    }

    /// <summary>The message as a cell.</summary>
    public Cell ToCell() => Store(new CellBuilder()).EndCell();
}

/// <summary>An internal message and the send mode the wallet should use for it.</summary>
public sealed record WalletMessage(InternalMessage Message, SendMode Mode);

/// <summary>
/// Inbound external messages: <c>ext_in_msg_info$10 src:MsgAddressExt dest:MsgAddressInt import_fee:Coins</c>,
/// then <c>init:(Maybe (Either StateInit ^StateInit)) body:(Either X ^X)</c> (tblkch.pdf 3.1.7; ton-and-tdx.md section 3).
/// </summary>
public static class ExternalMessage
{
    /// <summary>Builds the envelope the way ton-core storeMessage does (inline when it fits).</summary>
    public static Cell Create(TonAddress destination, Cell body, StateInit? init = null)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(body);
        var b = new CellBuilder().StoreUInt(0b10, 2).StoreAddressNone().StoreAddress(destination).StoreCoins(0);
        if (init is null)
        {
            b.StoreBit(false);
        }
        else
        {
            b.StoreBit(true);
            var initCell = init.ToCell();
            if (b.AvailableBits - 2 < initCell.BitLength + body.BitLength)
            {
                b.StoreBit(true).StoreRef(initCell);
            }
            else
            {
                b.StoreBit(false).StoreCellContents(initCell);
            }
        }

        if (b.AvailableBits - 1 < body.BitLength || b.RefCount + body.RefsArray.Length > 4)
        {
            b.StoreBit(true).StoreRef(body);
        }
        else
        {
            b.StoreBit(false).StoreCellContents(body);
        }

        return b.EndCell();
    }

    /// <summary>
    /// The normalized hash of an inbound external message (TEP-467): the hash of the message rebuilt with
    /// src addr_none, import_fee 0, no init and the body in a reference. Indexers such as toncenter v3 use it to
    /// find the transaction a message caused, whatever envelope the sender chose.
    /// </summary>
    public static byte[] NormalizedHash(Cell message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var s = message.BeginParse();
        if (s.LoadUInt(2) != 0b10)
        {
            throw new FormatException("not an inbound external message");
        }

        s.LoadMaybeExternalAddress();
        var dest = s.LoadAddress();
        s.LoadCoins();
        if (s.LoadBit())
        {
            if (s.LoadBit())
            {
                s.LoadRef();
            }
            else
            {
                StateInit.Load(s);
            }
        }

        var body = s.LoadBit() ? s.LoadRef() : s.ToCell();
        return new CellBuilder().StoreUInt(0b10, 2).StoreAddressNone().StoreAddress(dest).StoreCoins(0)
            .StoreBit(false).StoreBit(true).StoreRef(body).EndCell().HashBytes();
    }
}
