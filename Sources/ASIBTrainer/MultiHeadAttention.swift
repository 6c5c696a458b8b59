import Foundation

// Shapes: B samples, Tq query tokens and Tk key/value tokens per sample, embedding E split
// into H heads of width E / H. Query input, projected queries, head outputs and the output
// [B * Tq, E]; key/value input, keys and values [B * Tk, E]; attention weights
// [B, H, Tq, Tk]. In-projection weight [3E, E] (queries, keys, values stacked) and bias [3E];
// out-projection weight [E, E] and bias [E].

/// Offsets of the attention parameters in a `ParameterStore`, in PyTorch's
/// `nn.MultiheadAttention` names (`in_proj_weight`, `in_proj_bias`, `out_proj.weight`,
/// `out_proj.bias`).
struct AttentionParameters {
    let inWeight: Int
    let inBias: Int
    let outWeight: Int
    let outBias: Int

    static func declare(_ prefix: String, embed: Int, in store: ParameterStore) -> Self {
        AttentionParameters(
            inWeight: store.declare(prefix + "in_proj_weight", shape: [3 * embed, embed]),
            inBias: store.declare(prefix + "in_proj_bias", shape: [3 * embed]),
            outWeight: store.declare(prefix + "out_proj.weight", shape: [embed, embed]),
            outBias: store.declare(prefix + "out_proj.bias", shape: [embed])
        )
    }
}

/// Multi-head scaled dot-product attention with separate query and key/value inputs (keys
/// and values come from the same tokens), no dropout, as `nn.MultiheadAttention` with
/// `batch_first=True`. The activations of the last forward are kept for the backward pass.
final class MultiHeadAttention {
    let embed: Int
    let heads: Int
    let queryTokens: Int
    let keyTokens: Int
    let parameters: AttentionParameters
    private let queries: Tensor
    private let keys: Tensor
    private let values: Tensor
    private let weights: Tensor
    private let headOutputs: Tensor
    /// The attention output `[B * Tq, E]` of the last forward.
    let output: Tensor
    private let queriesGradient: Tensor
    private let keysGradient: Tensor
    private let valuesGradient: Tensor
    private let headOutputsGradient: Tensor

    init(
        embed: Int, heads: Int, batch: Int, queryTokens: Int, keyTokens: Int,
        parameters: AttentionParameters
    ) {
        precondition(embed % heads == 0, "embedding \(embed) not divisible by \(heads) heads")
        self.embed = embed
        self.heads = heads
        self.queryTokens = queryTokens
        self.keyTokens = keyTokens
        self.parameters = parameters
        queries = Tensor(shape: [batch * queryTokens, embed])
        keys = Tensor(shape: [batch * keyTokens, embed])
        values = Tensor(shape: [batch * keyTokens, embed])
        weights = Tensor(shape: [batch, heads, queryTokens, keyTokens])
        headOutputs = Tensor(shape: [batch * queryTokens, embed])
        output = Tensor(shape: [batch * queryTokens, embed])
        queriesGradient = Tensor(shape: queries.shape)
        keysGradient = Tensor(shape: keys.shape)
        valuesGradient = Tensor(shape: values.shape)
        headOutputsGradient = Tensor(shape: headOutputs.shape)
    }

    private var headWidth: Int { embed / heads }

    func forward(
        query: UnsafePointer<Float>,
        keyValue: UnsafePointer<Float>,
        store: ParameterStore,
        batch: Int
    ) {
        let p = store.values
        let block = embed * embed
        let queryRows = batch * queryTokens
        let keyRows = batch * keyTokens

        // Projections: Q = query Wq^T + bq, K = kv Wk^T + bk, V = kv Wv^T + bv.
        RowLinear.forward(
            output: queries.data, input: query, weight: p + parameters.inWeight,
            bias: p + parameters.inBias, rows: queryRows, inFeatures: embed, outFeatures: embed
        )
        RowLinear.forward(
            output: keys.data, input: keyValue, weight: p + parameters.inWeight + block,
            bias: p + parameters.inBias + embed, rows: keyRows, inFeatures: embed,
            outFeatures: embed
        )
        RowLinear.forward(
            output: values.data, input: keyValue, weight: p + parameters.inWeight + 2 * block,
            bias: p + parameters.inBias + 2 * embed, rows: keyRows, inFeatures: embed,
            outFeatures: embed
        )

        // Per head: A = softmax(Q K^T / sqrt(d_h)) over keys, O = A V.
        for b in 0..<batch {
            for h in 0..<heads {
                for i in 0..<queryTokens { attend(b, h, i) }
            }
        }

        // Output projection: out = O Wo^T + bo.
        RowLinear.forward(
            output: output.data, input: headOutputs.data, weight: p + parameters.outWeight,
            bias: p + parameters.outBias, rows: queryRows, inFeatures: embed, outFeatures: embed
        )
    }

    /// Computes the weights and the head output of query token `i` of sample `b`, head `h`.
    private func attend(_ b: Int, _ h: Int, _ i: Int) {
        let width = headWidth
        let scale = 1 / Double(width).squareRoot()
        let q = queries.data + (b * queryTokens + i) * embed + h * width
        let a = weights.data + ((b * heads + h) * queryTokens + i) * keyTokens
        var scores = [Double](repeating: 0, count: keyTokens)
        for j in 0..<keyTokens {
            let k = keys.data + (b * keyTokens + j) * embed + h * width
            var dot = 0.0
            for c in 0..<width { dot += Double(q[c]) * Double(k[c]) }
            scores[j] = dot * scale
        }
        let maximum = scores.max() ?? 0
        var sum = 0.0
        for j in 0..<keyTokens {
            scores[j] = exp(scores[j] - maximum)
            sum += scores[j]
        }
        let o = headOutputs.data + (b * queryTokens + i) * embed + h * width
        for c in 0..<width { o[c] = 0 }
        for j in 0..<keyTokens {
            a[j] = Float(scores[j] / sum)
            let v = values.data + (b * keyTokens + j) * embed + h * width
            for c in 0..<width { o[c] += a[j] * v[c] }
        }
    }

    /// Adds the parameter gradients to `store` and the input gradients to `queryGradient`
    /// and `keyValueGradient`.
    func backward(
        queryGradient: UnsafeMutablePointer<Float>,
        keyValueGradient: UnsafeMutablePointer<Float>,
        outputGradient: UnsafePointer<Float>,
        query: UnsafePointer<Float>,
        keyValue: UnsafePointer<Float>,
        store: ParameterStore,
        batch: Int
    ) {
        let p = store.values
        let g = store.gradients
        let block = embed * embed
        let queryRows = batch * queryTokens
        let keyRows = batch * keyTokens

        // out = O Wo^T + bo
        headOutputsGradient.zero()
        RowLinear.backward(
            inputGradient: headOutputsGradient.data, weightGradient: g + parameters.outWeight,
            biasGradient: g + parameters.outBias, outputGradient: outputGradient,
            input: headOutputs.data, weight: p + parameters.outWeight, rows: queryRows,
            inFeatures: embed, outFeatures: embed
        )

        // O = A V and A = softmax(Q K^T / sqrt(d_h)), per head and query token.
        queriesGradient.zero()
        keysGradient.zero()
        valuesGradient.zero()
        for b in 0..<batch {
            for h in 0..<heads {
                for i in 0..<queryTokens { attendBackward(b, h, i) }
            }
        }

        // Projections of queries, keys and values; K and V share the key/value input.
        RowLinear.backward(
            inputGradient: queryGradient, weightGradient: g + parameters.inWeight,
            biasGradient: g + parameters.inBias, outputGradient: queriesGradient.data,
            input: query, weight: p + parameters.inWeight, rows: queryRows, inFeatures: embed,
            outFeatures: embed
        )
        RowLinear.backward(
            inputGradient: keyValueGradient, weightGradient: g + parameters.inWeight + block,
            biasGradient: g + parameters.inBias + embed, outputGradient: keysGradient.data,
            input: keyValue, weight: p + parameters.inWeight + block, rows: keyRows,
            inFeatures: embed, outFeatures: embed
        )
        RowLinear.backward(
            inputGradient: keyValueGradient, weightGradient: g + parameters.inWeight + 2 * block,
            biasGradient: g + parameters.inBias + 2 * embed, outputGradient: valuesGradient.data,
            input: keyValue, weight: p + parameters.inWeight + 2 * block, rows: keyRows,
            inFeatures: embed, outFeatures: embed
        )
    }

    private func attendBackward(_ b: Int, _ h: Int, _ i: Int) {
        let width = headWidth
        let scale = 1 / Double(width).squareRoot()
        let rowOffset = (b * queryTokens + i) * embed + h * width
        let dO = headOutputsGradient.data + rowOffset
        let a = weights.data + ((b * heads + h) * queryTokens + i) * keyTokens
        // O = sum_j A_j V_j: dA_j = dO . V_j and dV_j += A_j dO
        var dA = [Double](repeating: 0, count: keyTokens)
        var weighted = 0.0
        for j in 0..<keyTokens {
            let v = values.data + (b * keyTokens + j) * embed + h * width
            let dV = valuesGradient.data + (b * keyTokens + j) * embed + h * width
            var dot = 0.0
            for c in 0..<width {
                dot += Double(dO[c]) * Double(v[c])
                dV[c] += a[j] * dO[c]
            }
            dA[j] = dot
            weighted += dot * Double(a[j])
        }
        // A = softmax(S): dS_j = A_j (dA_j - sum_k A_k dA_k); S_j = Q . K_j * scale
        let q = queries.data + rowOffset
        let dQ = queriesGradient.data + rowOffset
        for j in 0..<keyTokens {
            let dS = Double(a[j]) * (dA[j] - weighted) * scale
            let k = keys.data + (b * keyTokens + j) * embed + h * width
            let dK = keysGradient.data + (b * keyTokens + j) * embed + h * width
            for c in 0..<width {
                dQ[c] += Float(dS * Double(k[c]))
                dK[c] += Float(dS * Double(q[c]))
            }
        }
    }
}
