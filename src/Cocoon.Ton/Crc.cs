using System.Numerics;

namespace Cocoon.Ton;

/// <summary>The two checksums TON formats use.</summary>
public static class Crc
{
    /// <summary>
    /// CRC32C (Castagnoli, reflected polynomial 0x82F63B78, init and final XOR ~0) as the BoC trailer uses it
    /// (ton-and-tdx.md section 1; ton crypto/tl/boc.tlb). crc32c("123456789") = 0xE3069283.
    /// </summary>
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        // BitOperations.Crc32C does neither the initial nor the final inversion; do both here.
        var crc = ~0u;
        var i = 0;
        while (i + 8 <= data.Length)
        {
            crc = BitOperations.Crc32C(crc, System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
            i += 8;
        }

        for (; i < data.Length; i++)
        {
            crc = BitOperations.Crc32C(crc, data[i]);
        }

        return ~crc;
    }

    /// <summary>
    /// CRC16-XMODEM (polynomial 0x1021, init 0, no reflection) as user-friendly addresses use it
    /// (ton-and-tdx.md section 2). crc16("123456789") = 0x31C3.
    /// </summary>
    public static ushort Crc16Xmodem(ReadOnlySpan<byte> data)
    {
        var crc = 0;
        foreach (var b in data)
        {
            crc ^= b << 8;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
            }
        }

        return (ushort)crc;
    }
}
