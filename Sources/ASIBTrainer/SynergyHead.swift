import Foundation

// Shapes: synergy embedding z and its gradient [B, E]; normalised, activated and dropped
// activations [B, E]; logits [B, K].

/// The classifier on the IB_MBM embedding: `LayerNorm(E) -> GELU -> Dropout(p) -> Linear(E, K)`,
/// with an optional learnable temperature that divides the logits by
/// `max(exp(log_temp), 1e-4)`. Parameter names follow the PyTorch module
/// (`norm`, `fc`, `log_temp`).
public final class SynergyHead {
    public let embed: Int
    public let classes: Int
    public let dropout: Double
    public let learnableTemperature: Bool
    public let parameters = ParameterStore()
    private let gamma, beta, weight, bias: Int
    private let logTemperature: Int?
    private let normed: Tensor
    private let normalised: Tensor
    private let inverseStd: Tensor
    private let activated: Tensor
    private let dropped: Tensor
    private let mask: Tensor
    private let unscaled: Tensor
    /// Logits `[B, K]` of the last forward.
    public let logits: Tensor
    private let droppedGradient: Tensor
    private let activatedGradient: Tensor
    private let normedGradient: Tensor
    private let unscaledGradient: Tensor
    private var masked = false
    static let temperatureFloor: Float = 1e-4

    public init(
        embed: Int, classes: Int, dropout: Double, learnableTemperature: Bool,
        initialLogTemperature: Double, batch: Int, seed: UInt64
    ) {
        self.embed = embed
        self.classes = classes
        self.dropout = dropout
        self.learnableTemperature = learnableTemperature
        gamma = parameters.declare("norm.weight", shape: [embed])
        beta = parameters.declare("norm.bias", shape: [embed])
        weight = parameters.declare("fc.weight", shape: [classes, embed])
        bias = parameters.declare("fc.bias", shape: [classes])
        logTemperature = learnableTemperature ? parameters.declare("log_temp", shape: [1]) : nil
        parameters.allocate(withGradients: true)
        let rows = [batch, embed]
        normed = Tensor(shape: rows)
        normalised = Tensor(shape: rows)
        inverseStd = Tensor(shape: [batch])
        activated = Tensor(shape: rows)
        dropped = Tensor(shape: rows)
        mask = Tensor(shape: rows)
        unscaled = Tensor(shape: [batch, classes])
        logits = Tensor(shape: [batch, classes])
        droppedGradient = Tensor(shape: rows)
        activatedGradient = Tensor(shape: rows)
        normedGradient = Tensor(shape: rows)
        unscaledGradient = Tensor(shape: [batch, classes])

        var random = RandomGenerator(seed: seed)
        let values = parameters.values
        (values + gamma).update(repeating: 1, count: embed)
        let bound = 1 / Double(embed).squareRoot()
        for i in 0..<(classes * embed + classes) {
            values[weight + i] = Float(bound * (2 * random.nextUniform() - 1))
        }
        if let logTemperature { values[logTemperature] = Float(initialLogTemperature) }
    }

    /// The logit divisor `max(exp(log_temp), 1e-4)`, 1 without a learnable temperature.
    public var temperature: Float {
        guard let logTemperature else { return 1 }
        return max(Foundation.exp(parameters.values[logTemperature]), Self.temperatureFloor)
    }

    /// Returns the logits `[B, K]`. Dropout applies only when `random` is given (training).
    @discardableResult
    public func forward(
        z: UnsafePointer<Float>, batch: Int, random: UnsafeMutablePointer<RandomGenerator>?
    ) -> UnsafeMutablePointer<Float> {
        let p = parameters.values
        let count = batch * embed
        LayerNorm.forward(
            output: normed.data, normalised: normalised.data, inverseStd: inverseStd.data,
            input: z, gamma: p + gamma, beta: p + beta, rows: batch, features: embed
        )
        GELU.forward(output: activated.data, input: normed.data, count: count)
        masked = random != nil && dropout > 0
        if let random, masked {
            Dropout.forward(
                output: dropped.data, mask: mask.data, input: activated.data,
                probability: dropout, count: count, random: &random.pointee
            )
        } else {
            dropped.update(from: activated, count: count)
        }
        RowLinear.forward(
            output: unscaled.data, input: dropped.data, weight: p + weight, bias: p + bias,
            rows: batch, inFeatures: embed, outFeatures: classes
        )
        let divisor = temperature
        for i in 0..<(batch * classes) { logits.data[i] = unscaled.data[i] / divisor }
        return logits.data
    }

    /// Adds the parameter gradients and, when given, the gradient of z.
    public func backward(
        zGradient: UnsafeMutablePointer<Float>?,
        logitGradient: UnsafePointer<Float>,
        z: UnsafePointer<Float>,
        batch: Int
    ) {
        let (p, g) = (parameters.values, parameters.gradients)
        let count = batch * embed

        // logits = unscaled / max(exp(log_temp), floor)
        let divisor = temperature
        var temperatureGradient = 0.0
        for i in 0..<(batch * classes) {
            unscaledGradient.data[i] = logitGradient[i] / divisor
            temperatureGradient -= Double(logitGradient[i]) * Double(logits.data[i])
        }
        if let logTemperature, divisor > Self.temperatureFloor {
            g[logTemperature] += Float(temperatureGradient)
        }

        // unscaled = dropped W^T + b; dropped = activated * mask; activated = GELU(normed)
        droppedGradient.zero()
        RowLinear.backward(
            inputGradient: droppedGradient.data, weightGradient: g + weight,
            biasGradient: g + bias, outputGradient: unscaledGradient.data, input: dropped.data,
            weight: p + weight, rows: batch, inFeatures: embed, outFeatures: classes
        )
        activatedGradient.zero()
        if masked {
            Dropout.backward(
                inputGradient: activatedGradient.data, outputGradient: droppedGradient.data,
                mask: mask.data, count: count
            )
        } else {
            activatedGradient.update(from: droppedGradient, count: count)
        }
        normedGradient.zero()
        GELU.backward(
            inputGradient: normedGradient.data, outputGradient: activatedGradient.data,
            input: normed.data, count: count
        )

        // normed = LN(z)
        guard let zGradient else {
            var discard = [Float](repeating: 0, count: count)
            LayerNorm.backward(
                inputGradient: &discard, gammaGradient: g + gamma, betaGradient: g + beta,
                outputGradient: normedGradient.data, normalised: normalised.data,
                inverseStd: inverseStd.data, gamma: p + gamma, rows: batch, features: embed
            )
            return
        }
        LayerNorm.backward(
            inputGradient: zGradient, gammaGradient: g + gamma, betaGradient: g + beta,
            outputGradient: normedGradient.data, normalised: normalised.data,
            inverseStd: inverseStd.data, gamma: p + gamma, rows: batch, features: embed
        )
    }
}
