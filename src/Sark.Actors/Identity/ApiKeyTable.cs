using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;

namespace Sark.Actors.Identity;

/// <summary>Compares two hashes; the table always uses a constant-time comparison.</summary>
internal delegate bool HashComparer(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right);

/// <summary>
/// Finds the configured key that matches a presented API key without leaking timing: the
/// presented key is hashed, then compared with every configured hash in constant time, with
/// no early exit, so the time does not depend on which key matched or how much of it did.
/// </summary>
internal sealed class ApiKeyTable(ImmutableArray<ApiKeyEntry> entries, HashComparer? comparer = null)
{
    private readonly ImmutableArray<ApiKeyEntry> _entries = entries;
    private readonly HashComparer _compare = comparer ?? CryptographicOperations.FixedTimeEquals;

    public bool IsEmpty => _entries.IsEmpty;

    /// <summary>The entry whose hash is the SHA-256 of <paramref name="key"/>, or null.</summary>
    public ApiKeyEntry? Find(string key)
    {
        Span<byte> presented = stackalloc byte[SHA256.HashSizeInBytes];
        var maxBytes = Encoding.UTF8.GetMaxByteCount(key.Length);
        var rented = maxBytes <= 512 ? null : System.Buffers.ArrayPool<byte>.Shared.Rent(maxBytes);
        try
        {
            Span<byte> utf8 = rented is null ? stackalloc byte[512] : rented;
            var length = Encoding.UTF8.GetBytes(key, utf8);
            SHA256.HashData(utf8[..length], presented);
            utf8[..length].Clear();
        }
        finally
        {
            if (rented is not null)
                System.Buffers.ArrayPool<byte>.Shared.Return(rented, clearArray: true);
        }

        var match = -1;
        for (var i = 0; i < _entries.Length; i++)
        {
            // No early exit: every hash is compared, and the index is taken without branching on secrets' bytes.
            var equal = _compare(presented, _entries[i].Sha256.AsSpan());
            match = equal ? i : match;
        }

        return match < 0 ? null : _entries[match];
    }
}
