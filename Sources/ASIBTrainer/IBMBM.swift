import Foundation

// Shapes: B samples, T teacher tokens per sample. Query feature [B, Dq]; teacher tokens
// [B * T, Dkv]; projected and normalised query, attention output, residual sum, synergy
// feature, mu, logvar, std, noise and z [B, E]; projected and normalised tokens [B * T, E].

/// Sizes and limits of an IB_MBM block.
public struct IBMBMShape: Equatable, Sendable {
    public var queryDim: Int
    public var keyValueDim: Int
    public var tokens: Int
    public var embed: Int
    public var heads: Int
    /// logvar is clamped to [-logvarClip, logvarClip].
    public var logvarClip: Double
    /// Lower bound of the standard deviation used for sampling.
    public var minStd: Double

    public init(
        queryDim: Int, keyValueDim: Int, tokens: Int, embed: Int, heads: Int,
        logvarClip: Double, minStd: Double
    ) {
        self.queryDim = queryDim
        self.keyValueDim = keyValueDim
        self.tokens = tokens
        self.embed = embed
        self.heads = heads
        self.logvarClip = logvarClip
        self.minStd = minStd
    }
}

/// The information-bottleneck manifold-bridging module: the student feature attends over
/// the teacher tokens and a Gaussian head returns mu and logvar of the synergy embedding.
///
/// `q = LN_q(q_proj(query))`, `kv = LN_kv(kv_proj(tokens))`, `syn = LN_out(MHA(q, kv) + q)`,
/// `mu = mu(syn)`, `logvar = clamp(logvar(syn), -L, L)`, `std = max(exp(logvar / 2), m)`, and
/// `z = mu + std * noise` when sampling (training), `z = mu` otherwise (evaluation).
/// Parameter names follow the PyTorch module: `q_proj`, `kv_proj`, `q_norm`, `kv_norm`,
/// `attn`, `out_norm`, `mu`, `logvar`.
public final class IBMBM {
    public let shape: IBMBMShape
    public let parameters = ParameterStore()
    private let offsets: Offsets
    private let attention: MultiHeadAttention

    private let queryProjected: Tensor
    private let query: Tensor
    private let queryNormalised: Tensor
    private let queryInverseStd: Tensor
    private let tokensProjected: Tensor
    private let tokensNormed: Tensor
    private let tokensNormalised: Tensor
    private let tokensInverseStd: Tensor
    private let residual: Tensor
    private let synergy: Tensor
    private let synergyNormalised: Tensor
    private let synergyInverseStd: Tensor
    /// Outputs of the last forward `[B, E]`.
    public let mu: Tensor
    public let logvarRaw: Tensor
    public let logvar: Tensor
    public let std: Tensor
    public let noise: Tensor
    public let z: Tensor
    private var sampled = false

    /// Gradients of the outputs `[B, E]`, filled by the losses before `backward`.
    public let zGradient: Tensor
    public let muGradient: Tensor
    public let logvarGradient: Tensor
    private let queryGradient: Tensor
    private let queryProjectedGradient: Tensor
    private let tokensGradient: Tensor
    private let tokensProjectedGradient: Tensor
    private let residualGradient: Tensor
    private let synergyGradient: Tensor

    private struct Offsets {
        let queryWeight, queryBias, keyValueWeight, keyValueBias: Int
        let queryGamma, queryBeta, keyValueGamma, keyValueBeta: Int
        let attention: AttentionParameters
        let outGamma, outBeta, muWeight, muBias, logvarWeight, logvarBias: Int
    }

    /// Builds the block for batches of up to `batch` samples and initialises it from `seed`
    /// as PyTorch does. Linear layers are uniform in +-1/sqrt(fan_in), LayerNorm has gamma 1
    /// and beta 0, the attention in-projection is Xavier-uniform and the out-projection
    /// uniform in +-1/sqrt(E), both with zero biases.
    public init(shape: IBMBMShape, batch: Int, seed: UInt64) {
        self.shape = shape
        let (e, store) = (shape.embed, parameters)
        offsets = Offsets(
            queryWeight: store.declare("q_proj.weight", shape: [e, shape.queryDim]),
            queryBias: store.declare("q_proj.bias", shape: [e]),
            keyValueWeight: store.declare("kv_proj.weight", shape: [e, shape.keyValueDim]),
            keyValueBias: store.declare("kv_proj.bias", shape: [e]),
            queryGamma: store.declare("q_norm.weight", shape: [e]),
            queryBeta: store.declare("q_norm.bias", shape: [e]),
            keyValueGamma: store.declare("kv_norm.weight", shape: [e]),
            keyValueBeta: store.declare("kv_norm.bias", shape: [e]),
            attention: AttentionParameters.declare("attn.", embed: e, in: store),
            outGamma: store.declare("out_norm.weight", shape: [e]),
            outBeta: store.declare("out_norm.bias", shape: [e]),
            muWeight: store.declare("mu.weight", shape: [e, e]),
            muBias: store.declare("mu.bias", shape: [e]),
            logvarWeight: store.declare("logvar.weight", shape: [e, e]),
            logvarBias: store.declare("logvar.bias", shape: [e])
        )
        store.allocate(withGradients: true)
        attention = MultiHeadAttention(
            embed: e, heads: shape.heads, batch: batch, queryTokens: 1, keyTokens: shape.tokens,
            parameters: offsets.attention
        )
        let rows = [batch, e]
        let tokenRows = [batch * shape.tokens, e]
        queryProjected = Tensor(shape: rows)
        query = Tensor(shape: rows)
        queryNormalised = Tensor(shape: rows)
        queryInverseStd = Tensor(shape: [batch])
        tokensProjected = Tensor(shape: tokenRows)
        tokensNormed = Tensor(shape: tokenRows)
        tokensNormalised = Tensor(shape: tokenRows)
        tokensInverseStd = Tensor(shape: [batch * shape.tokens])
        residual = Tensor(shape: rows)
        synergy = Tensor(shape: rows)
        synergyNormalised = Tensor(shape: rows)
        synergyInverseStd = Tensor(shape: [batch])
        mu = Tensor(shape: rows)
        logvarRaw = Tensor(shape: rows)
        logvar = Tensor(shape: rows)
        std = Tensor(shape: rows)
        noise = Tensor(shape: rows)
        z = Tensor(shape: rows)
        zGradient = Tensor(shape: rows)
        muGradient = Tensor(shape: rows)
        logvarGradient = Tensor(shape: rows)
        queryGradient = Tensor(shape: rows)
        queryProjectedGradient = Tensor(shape: rows)
        tokensGradient = Tensor(shape: tokenRows)
        tokensProjectedGradient = Tensor(shape: tokenRows)
        residualGradient = Tensor(shape: rows)
        synergyGradient = Tensor(shape: rows)
        initialise(seed: seed)
    }

    private func initialise(seed: UInt64) {
        var random = RandomGenerator(seed: seed)
        let values = parameters.values
        func uniform(_ offset: Int, _ count: Int, bound: Double) {
            for i in 0..<count {
                values[offset + i] = Float(bound * (2 * random.nextUniform() - 1))
            }
        }
        let e = shape.embed
        let o = offsets
        for (weight, bias, fanIn) in [
            (o.queryWeight, o.queryBias, shape.queryDim),
            (o.keyValueWeight, o.keyValueBias, shape.keyValueDim),
            (o.muWeight, o.muBias, e), (o.logvarWeight, o.logvarBias, e),
        ] {
            uniform(weight, e * fanIn, bound: 1 / Double(fanIn).squareRoot())
            uniform(bias, e, bound: 1 / Double(fanIn).squareRoot())
        }
        for gamma in [o.queryGamma, o.keyValueGamma, o.outGamma] {
            (values + gamma).update(repeating: 1, count: e)
        }
        uniform(o.attention.inWeight, 3 * e * e, bound: (6 / Double(e + 3 * e)).squareRoot())
        uniform(o.attention.outWeight, e * e, bound: 1 / Double(e).squareRoot())
    }

    /// Runs the block. With `sample`, `noise` must hold standard normal draws `[B, E]`
    /// (see `drawNoise`) and `z = mu + std * noise`; without it `z = mu`.
    public func forward(
        queryFeature: UnsafePointer<Float>,
        teacherTokens: UnsafePointer<Float>,
        batch: Int,
        sample: Bool
    ) {
        let (e, p, o) = (shape.embed, parameters.values, offsets)
        let tokenRows = batch * shape.tokens
        sampled = sample

        // Query: q = LN_q(query Wq^T + bq)
        RowLinear.forward(
            output: queryProjected.data, input: queryFeature, weight: p + o.queryWeight,
            bias: p + o.queryBias, rows: batch, inFeatures: shape.queryDim, outFeatures: e
        )
        LayerNorm.forward(
            output: query.data, normalised: queryNormalised.data,
            inverseStd: queryInverseStd.data, input: queryProjected.data, gamma: p + o.queryGamma,
            beta: p + o.queryBeta, rows: batch, features: e
        )

        // Keys/values: kv = LN_kv(tokens Wkv^T + bkv), per token.
        RowLinear.forward(
            output: tokensProjected.data, input: teacherTokens, weight: p + o.keyValueWeight,
            bias: p + o.keyValueBias, rows: tokenRows, inFeatures: shape.keyValueDim,
            outFeatures: e
        )
        LayerNorm.forward(
            output: tokensNormed.data, normalised: tokensNormalised.data,
            inverseStd: tokensInverseStd.data, input: tokensProjected.data,
            gamma: p + o.keyValueGamma, beta: p + o.keyValueBeta, rows: tokenRows, features: e
        )

        // Attention, residual and norm: syn = LN_out(MHA(q, kv) + q)
        attention.forward(
            query: query.data, keyValue: tokensNormed.data, store: parameters, batch: batch
        )
        for i in 0..<(batch * e) { residual.data[i] = attention.output.data[i] + query.data[i] }
        LayerNorm.forward(
            output: synergy.data, normalised: synergyNormalised.data,
            inverseStd: synergyInverseStd.data, input: residual.data, gamma: p + o.outGamma,
            beta: p + o.outBeta, rows: batch, features: e
        )

        // Gaussian heads: mu, logvar = clamp(raw, -L, L), std = max(exp(logvar / 2), m).
        RowLinear.forward(
            output: mu.data, input: synergy.data, weight: p + o.muWeight, bias: p + o.muBias,
            rows: batch, inFeatures: e, outFeatures: e
        )
        RowLinear.forward(
            output: logvarRaw.data, input: synergy.data, weight: p + o.logvarWeight,
            bias: p + o.logvarBias, rows: batch, inFeatures: e, outFeatures: e
        )
        let clip = Float(shape.logvarClip)
        let minStd = Float(shape.minStd)
        for i in 0..<(batch * e) {
            logvar.data[i] = min(max(logvarRaw.data[i], -clip), clip)
            std.data[i] = max(Foundation.exp(logvar.data[i] / 2), minStd)
            z.data[i] = sample ? mu.data[i] + std.data[i] * noise.data[i] : mu.data[i]
        }
    }

    /// Fills `noise` with standard normal draws for the next sampled forward.
    public func drawNoise(batch: Int, random: inout RandomGenerator) {
        for i in 0..<(batch * shape.embed) { noise.data[i] = Float(random.nextNormal()) }
    }

    /// Zeroes the output gradients before the losses add into them.
    public func zeroOutputGradients() {
        zGradient.zero()
        muGradient.zero()
        logvarGradient.zero()
    }

    /// Adds the parameter gradients for the output gradients, and the input gradients when
    /// buffers are given. Call after the forward of the same batch.
    public func backward(
        queryFeatureGradient: UnsafeMutablePointer<Float>?,
        teacherTokensGradient: UnsafeMutablePointer<Float>?,
        queryFeature: UnsafePointer<Float>,
        teacherTokens: UnsafePointer<Float>,
        batch: Int
    ) {
        let (e, p, g, o) = (shape.embed, parameters.values, parameters.gradients, offsets)
        let tokenRows = batch * shape.tokens
        let clip = Float(shape.logvarClip)
        let minStd = Float(shape.minStd)

        // z = mu + std * noise (or z = mu); std = max(exp(logvar / 2), m);
        // logvar = clamp(raw, -L, L). logvarGradient becomes the gradient of raw.
        for i in 0..<(batch * e) {
            muGradient.data[i] += zGradient.data[i]
            if sampled && std.data[i] > minStd {
                logvarGradient.data[i] += zGradient.data[i] * noise.data[i] * std.data[i] / 2
            }
            let raw = logvarRaw.data[i]
            if raw < -clip || raw > clip { logvarGradient.data[i] = 0 }
        }

        // mu = syn Wmu^T + b, raw = syn Wlv^T + b
        synergyGradient.zero()
        RowLinear.backward(
            inputGradient: synergyGradient.data, weightGradient: g + o.muWeight,
            biasGradient: g + o.muBias, outputGradient: muGradient.data, input: synergy.data,
            weight: p + o.muWeight, rows: batch, inFeatures: e, outFeatures: e
        )
        RowLinear.backward(
            inputGradient: synergyGradient.data, weightGradient: g + o.logvarWeight,
            biasGradient: g + o.logvarBias, outputGradient: logvarGradient.data,
            input: synergy.data, weight: p + o.logvarWeight, rows: batch, inFeatures: e,
            outFeatures: e
        )

        // syn = LN_out(residual); residual = MHA(q, kv) + q
        residualGradient.zero()
        LayerNorm.backward(
            inputGradient: residualGradient.data, gammaGradient: g + o.outGamma,
            betaGradient: g + o.outBeta, outputGradient: synergyGradient.data,
            normalised: synergyNormalised.data, inverseStd: synergyInverseStd.data,
            gamma: p + o.outGamma, rows: batch, features: e
        )
        queryGradient.update(from: residualGradient, count: batch * e)
        tokensGradient.zero()
        attention.backward(
            queryGradient: queryGradient.data, keyValueGradient: tokensGradient.data,
            outputGradient: residualGradient.data, query: query.data,
            keyValue: tokensNormed.data, store: parameters, batch: batch
        )

        // kv = LN_kv(tokens Wkv^T + bkv)
        tokensProjectedGradient.zero()
        LayerNorm.backward(
            inputGradient: tokensProjectedGradient.data, gammaGradient: g + o.keyValueGamma,
            betaGradient: g + o.keyValueBeta, outputGradient: tokensGradient.data,
            normalised: tokensNormalised.data, inverseStd: tokensInverseStd.data,
            gamma: p + o.keyValueGamma, rows: tokenRows, features: e
        )
        RowLinear.backward(
            inputGradient: teacherTokensGradient, weightGradient: g + o.keyValueWeight,
            biasGradient: g + o.keyValueBias, outputGradient: tokensProjectedGradient.data,
            input: teacherTokens, weight: p + o.keyValueWeight, rows: tokenRows,
            inFeatures: shape.keyValueDim, outFeatures: e
        )

        // q = LN_q(query Wq^T + bq)
        queryProjectedGradient.zero()
        LayerNorm.backward(
            inputGradient: queryProjectedGradient.data, gammaGradient: g + o.queryGamma,
            betaGradient: g + o.queryBeta, outputGradient: queryGradient.data,
            normalised: queryNormalised.data, inverseStd: queryInverseStd.data,
            gamma: p + o.queryGamma, rows: batch, features: e
        )
        RowLinear.backward(
            inputGradient: queryFeatureGradient, weightGradient: g + o.queryWeight,
            biasGradient: g + o.queryBias, outputGradient: queryProjectedGradient.data,
            input: queryFeature, weight: p + o.queryWeight, rows: batch,
            inFeatures: shape.queryDim, outFeatures: e
        )
    }
}

extension Tensor {
    /// Copies the first `count` elements of `source`.
    func update(from source: Tensor, count: Int) {
        data.update(from: source.data, count: count)
    }
}
