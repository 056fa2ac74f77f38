using Cocoon.Ton.Cells;

namespace Cocoon.Ton.Addresses;

/// <summary>
/// TL-B <c>StateInit</c> as wallets deploy it: <c>split_depth:(Maybe (## 5)) special:(Maybe TickTock)
/// code:(Maybe ^Cell) data:(Maybe ^Cell) library:(Maybe ^Cell)</c> (tblkch.pdf 3.1.7; ton-core src/types/StateInit.ts).
/// </summary>
public sealed record StateInit(Cell? Code, Cell? Data)
{
    /// <summary>Writes this StateInit into a builder (no split_depth, no special, no library).</summary>
    public CellBuilder Store(CellBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.StoreBit(false).StoreBit(false).StoreMaybeRef(Code).StoreMaybeRef(Data).StoreBit(false);
    }

    /// <summary>The StateInit cell; its hash is the contract's account id.</summary>
    public Cell ToCell() => Store(new CellBuilder()).EndCell();

    /// <summary>Reads a StateInit; split_depth, special and library are read past and not kept.</summary>
    public static StateInit Load(CellSlice slice)
    {
        ArgumentNullException.ThrowIfNull(slice);
        if (slice.LoadBit())
        {
            slice.Skip(5);
        }

        if (slice.LoadBit())
        {
            slice.Skip(2);
        }

        var code = slice.LoadMaybeRef();
        var data = slice.LoadMaybeRef();
        if (slice.LoadBit())
        {
            slice.LoadRef();
        }

        return new StateInit(code, data);
    }
}
