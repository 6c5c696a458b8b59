// Shapes: input [C, B, H, W]; output [C, B].

/// The mean over each `H x W` plane.
public enum GlobalAvgPool2D {
    public static func forward(
        output: UnsafeMutablePointer<Float>,
        input: UnsafePointer<Float>,
        planes: Int,
        planeSize: Int
    ) {
        let scale = 1 / Float(planeSize)
        for plane in 0..<planes {
            let x = input + plane * planeSize
            var sum: Float = 0
            for i in 0..<planeSize { sum += x[i] }
            output[plane] = sum * scale
        }
    }

    /// Adds `dOutput / (H * W)` to every position of each plane.
    public static func backward(
        inputGradient: UnsafeMutablePointer<Float>,
        outputGradient: UnsafePointer<Float>,
        planes: Int,
        planeSize: Int
    ) {
        let scale = 1 / Float(planeSize)
        for plane in 0..<planes {
            let dx = inputGradient + plane * planeSize
            let share = outputGradient[plane] * scale
            for i in 0..<planeSize { dx[i] += share }
        }
    }
}
