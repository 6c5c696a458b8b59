import Foundation

// Shapes: input rows [B, F]; hidden pre-activation and activation [B, H]; output [B, D].

/// The distillation adapter `Linear(F, H) -> ReLU -> Linear(H, D)` that maps a network's
/// pooled feature to the common token width of IB_MBM. Parameter names follow the PyTorch
/// `nn.Sequential` (`0.weight`, `0.bias`, `2.weight`, `2.bias`); weights and biases are
/// initialised uniform in +-1/sqrt(fan_in), PyTorch's default for `nn.Linear`.
final class DistillationAdapter {
    let inFeatures: Int
    let hidden: Int
    let outFeatures: Int
    let parameters = ParameterStore()
    private let firstWeight, firstBias, secondWeight, secondBias: Int
    /// Input rows and activations of the last forward.
    let input: Tensor
    private let preActivation: Tensor
    private let activation: Tensor
    /// Output rows `[B, D]` of the last forward.
    let output: Tensor
    private let activationGradient: Tensor
    private let preActivationGradient: Tensor

    /// Returns `(H, D)` for a feature width F: D = `outDim` when positive, else F / 4, and
    /// H = `hiddenDim` when positive, else max(F / 2, D).
    static func widths(features: Int, outDim: Int, hiddenDim: Int) -> (hidden: Int, out: Int) {
        let out = outDim > 0 ? outDim : max(1, features / 4)
        let hidden = hiddenDim > 0 ? hiddenDim : max(features / 2, out)
        return (hidden, out)
    }

    init(inFeatures: Int, hidden: Int, outFeatures: Int, batch: Int, seed: UInt64) {
        self.inFeatures = inFeatures
        self.hidden = hidden
        self.outFeatures = outFeatures
        firstWeight = parameters.declare("0.weight", shape: [hidden, inFeatures])
        firstBias = parameters.declare("0.bias", shape: [hidden])
        secondWeight = parameters.declare("2.weight", shape: [outFeatures, hidden])
        secondBias = parameters.declare("2.bias", shape: [outFeatures])
        parameters.allocate(withGradients: true)
        input = Tensor(shape: [batch, inFeatures])
        preActivation = Tensor(shape: [batch, hidden])
        activation = Tensor(shape: [batch, hidden])
        output = Tensor(shape: [batch, outFeatures])
        activationGradient = Tensor(shape: [batch, hidden])
        preActivationGradient = Tensor(shape: [batch, hidden])

        var random = RandomGenerator(seed: seed)
        let values = parameters.values
        for (offset, count, fanIn) in [
            (firstWeight, hidden * inFeatures, inFeatures), (firstBias, hidden, inFeatures),
            (secondWeight, outFeatures * hidden, hidden), (secondBias, outFeatures, hidden),
        ] {
            let bound = 1 / Double(fanIn).squareRoot()
            for i in 0..<count {
                values[offset + i] = Float(bound * (2 * random.nextUniform() - 1))
            }
        }
    }

    /// Copies a feature-major pooled feature `[F, B]` into the input rows and runs the forward.
    func forward(pooled: UnsafePointer<Float>, batch: Int) {
        for b in 0..<batch {
            for c in 0..<inFeatures { input.data[b * inFeatures + c] = pooled[c * batch + b] }
        }
        forward(batch: batch)
    }

    /// Runs the forward on the input rows already in `input`.
    func forward(batch: Int) {
        let p = parameters.values
        RowLinear.forward(
            output: preActivation.data, input: input.data, weight: p + firstWeight,
            bias: p + firstBias, rows: batch, inFeatures: inFeatures, outFeatures: hidden
        )
        for i in 0..<(batch * hidden) { activation.data[i] = max(preActivation.data[i], 0) }
        RowLinear.forward(
            output: output.data, input: activation.data, weight: p + secondWeight,
            bias: p + secondBias, rows: batch, inFeatures: hidden, outFeatures: outFeatures
        )
    }

    /// Adds the parameter gradients for `outputGradient` `[B, D]` and, when given, the input
    /// gradient `[B, F]`. Call after the forward of the same batch.
    func backward(
        outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
        batch: Int
    ) {
        let (p, g) = (parameters.values, parameters.gradients)
        activationGradient.zero()
        RowLinear.backward(
            inputGradient: activationGradient.data, weightGradient: g + secondWeight,
            biasGradient: g + secondBias, outputGradient: outputGradient, input: activation.data,
            weight: p + secondWeight, rows: batch, inFeatures: hidden, outFeatures: outFeatures
        )
        for i in 0..<(batch * hidden) {
            preActivationGradient.data[i] = preActivation.data[i] > 0 ? activationGradient.data[i] : 0
        }
        RowLinear.backward(
            inputGradient: inputGradient, weightGradient: g + firstWeight,
            biasGradient: g + firstBias, outputGradient: preActivationGradient.data,
            input: input.data, weight: p + firstWeight, rows: batch, inFeatures: inFeatures,
            outFeatures: hidden
        )
    }
}
