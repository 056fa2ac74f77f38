using System.Buffers.Binary;
using System.Text;

namespace Cocoon.Inference.Generation.Onnx;

/// <summary>
/// Writes an ONNX <c>ModelProto</c> (onnx/onnx.proto3, IR version 8) from nodes, initializers and typed inputs/outputs,
/// encoding the protobuf wire format by hand: only the few fields a plain inference graph needs are written.
/// </summary>
internal sealed class OnnxGraphWriter
{
    // TensorProto.DataType values (onnx.proto3).
    internal const int Float = 1;
    internal const int Int64 = 7;
    internal const int Bool = 9;

    private readonly List<byte[]> _nodes = [];
    private readonly List<byte[]> _initializers = [];
    private readonly List<byte[]> _inputs = [];
    private readonly List<byte[]> _outputs = [];
    private int _nodeCount;

    /// <summary>A node; attributes are written as given.</summary>
    public void Node(string opType, string[] inputs, string[] outputs, params Attribute[] attributes)
    {
        var w = new ProtoWriter();
        foreach (var input in inputs)
        {
            w.String(1, input);
        }

        foreach (var output in outputs)
        {
            w.String(2, output);
        }

        w.String(3, $"{opType}_{_nodeCount++}");
        w.String(4, opType);
        foreach (var attribute in attributes)
        {
            w.Message(5, attribute.Encode());
        }

        _nodes.Add(w.ToArray());
    }

    /// <summary>A float initializer.</summary>
    public void Initializer(string name, long[] dims, ReadOnlySpan<float> values)
    {
        var raw = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * 4), values[i]);
        }

        _initializers.Add(Tensor(name, dims, Float, raw));
    }

    /// <summary>An int64 initializer.</summary>
    public void Initializer(string name, long[] dims, ReadOnlySpan<long> values)
    {
        var raw = new byte[values.Length * 8];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * 8), values[i]);
        }

        _initializers.Add(Tensor(name, dims, Int64, raw));
    }

    /// <summary>A graph input; a dimension is a number or a symbolic name.</summary>
    public void Input(string name, int elementType, params object[] dims) => _inputs.Add(ValueInfo(name, elementType, dims));

    /// <summary>A graph output; a dimension is a number or a symbolic name.</summary>
    public void Output(string name, int elementType, params object[] dims) => _outputs.Add(ValueInfo(name, elementType, dims));

    /// <summary>The serialized ModelProto.</summary>
    public byte[] ToModel(string graphName, int opset, IReadOnlyDictionary<string, string> metadata)
    {
        var graph = new ProtoWriter();
        foreach (var node in _nodes)
        {
            graph.Message(1, node);
        }

        graph.String(2, graphName);
        foreach (var initializer in _initializers)
        {
            graph.Message(5, initializer);
        }

        foreach (var input in _inputs)
        {
            graph.Message(11, input);
        }

        foreach (var output in _outputs)
        {
            graph.Message(12, output);
        }

        var opsetId = new ProtoWriter();
        opsetId.String(1, "");
        opsetId.Varint(2, (ulong)opset);

        var model = new ProtoWriter();
        model.Varint(1, 8); // ir_version 8 (ONNX 1.10+), enough for opset 17
        model.String(2, "cocoon");
        model.Message(7, graph.ToArray());
        model.Message(8, opsetId.ToArray());
        foreach (var (key, value) in metadata)
        {
            var entry = new ProtoWriter();
            entry.String(1, key);
            entry.String(2, value);
            model.Message(14, entry.ToArray()); // metadata_props
        }

        return model.ToArray();
    }

    private static byte[] Tensor(string name, long[] dims, int dataType, byte[] raw)
    {
        var w = new ProtoWriter();
        foreach (var dim in dims)
        {
            w.Varint(1, (ulong)dim);
        }

        w.Varint(2, (ulong)dataType);
        w.String(8, name);
        w.Bytes(9, raw);
        return w.ToArray();
    }

    private static byte[] ValueInfo(string name, int elementType, object[] dims)
    {
        var shape = new ProtoWriter();
        foreach (var dim in dims)
        {
            var d = new ProtoWriter();
            if (dim is string symbol)
            {
                d.String(2, symbol);
            }
            else
            {
                d.Varint(1, (ulong)Convert.ToInt64(dim, System.Globalization.CultureInfo.InvariantCulture));
            }

            shape.Message(1, d.ToArray());
        }

        var tensorType = new ProtoWriter();
        tensorType.Varint(1, (ulong)elementType);
        tensorType.Message(2, shape.ToArray());
        var type = new ProtoWriter();
        type.Message(1, tensorType.ToArray());
        var info = new ProtoWriter();
        info.String(1, name);
        info.Message(2, type.ToArray());
        return info.ToArray();
    }

    /// <summary>A node attribute (AttributeProto).</summary>
    internal readonly record struct Attribute(string Name, long? Int = null, float? Float = null, long[]? Ints = null, byte[]? Tensor = null)
    {
        public static Attribute Of(string name, long value) => new(name, Int: value);

        public static Attribute Of(string name, float value) => new(name, Float: value);

        public static Attribute Of(string name, long[] values) => new(name, Ints: values);

        internal byte[] Encode()
        {
            // AttributeProto: name 1, f 2, i 3, t 5, ints 8, type 20 (FLOAT 1, INT 2, TENSOR 4, INTS 7).
            var w = new ProtoWriter();
            w.String(1, Name);
            if (Float is { } f)
            {
                w.Float(2, f);
                w.Varint(20, 1);
            }
            else if (Int is { } i)
            {
                w.Varint(3, (ulong)i);
                w.Varint(20, 2);
            }
            else if (Tensor is { } t)
            {
                w.Message(5, t);
                w.Varint(20, 4);
            }
            else
            {
                foreach (var value in Ints ?? [])
                {
                    w.Varint(8, (ulong)value);
                }

                w.Varint(20, 7);
            }

            return w.ToArray();
        }
    }
}

/// <summary>The protobuf wire format: varints (wire type 0), fixed32 (5) and length-delimited fields (2).</summary>
internal sealed class ProtoWriter
{
    // A growable buffer; MemoryStream would need disposing.
    private byte[] _buffer = new byte[64];
    private int _length;

    public void Varint(int field, ulong value)
    {
        Tag(field, 0);
        Raw(value);
    }

    public void Float(int field, float value)
    {
        Tag(field, 5);
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
        Write(bytes);
    }

    public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public void Message(int field, byte[] message) => Bytes(field, message);

    public void Bytes(int field, byte[] value)
    {
        Tag(field, 2);
        Raw((ulong)value.Length);
        Write(value);
    }

    public byte[] ToArray() => _buffer.AsSpan(0, _length).ToArray();

    private void Tag(int field, int wireType) => Raw(((ulong)field << 3) | (uint)wireType);

    private void Raw(ulong value)
    {
        Span<byte> bytes = stackalloc byte[10];
        var n = 0;
        while (value >= 0x80)
        {
            bytes[n++] = (byte)(value | 0x80);
            value >>= 7;
        }

        bytes[n++] = (byte)value;
        Write(bytes[..n]);
    }

    private void Write(ReadOnlySpan<byte> bytes)
    {
        if (_length + bytes.Length > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + bytes.Length));
        }

        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }
}
