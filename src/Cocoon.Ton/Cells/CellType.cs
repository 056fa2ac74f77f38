namespace Cocoon.Ton.Cells;

/// <summary>
/// Cell kinds. Exotic cells carry their type in the first data byte (docs.ton.org data-formats/cells/exotic;
/// ton-and-tdx.md section 1).
/// </summary>
public enum CellType
{
    /// <summary>An ordinary cell: up to 1023 bits and 4 references.</summary>
    Ordinary = -1,

    /// <summary>Pruned branch (type 1): stands in for a removed subtree, carrying its hashes and depths.</summary>
    PrunedBranch = 1,

    /// <summary>Library reference (type 2): 8 + 256 bits, the hash of a library cell.</summary>
    Library = 2,

    /// <summary>Merkle proof (type 3): 8 + 256 + 16 bits and one reference.</summary>
    MerkleProof = 3,

    /// <summary>Merkle update (type 4): two hashes, two depths and two references.</summary>
    MerkleUpdate = 4,
}
