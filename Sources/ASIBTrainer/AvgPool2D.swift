// Shapes: input [C, B, H, W]; output [C, B, H / k, W / k] (window k, stride k, no padding).

/// Average pooling over non-overlapping `k x k` windows; rows and columns that do not fill a
/// whole window are dropped, as PyTorch's `AvgPool2d(k)` does.
public enum AvgPool2D {
    public static func forward(
        output: UnsafeMutablePointer<Float>,
        input: UnsafePointer<Float>,
        planes: Int,
        height: Int,
        width: Int,
        window k: Int
    ) {
        let (oh, ow) = (height / k, width / k)
        let scale = 1 / Float(k * k)
        for plane in 0..<planes {
            let x = input + plane * height * width
            let y = output + plane * oh * ow
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var sum: Float = 0
                    for dy in 0..<k {
                        let row = x + (oy * k + dy) * width + ox * k
                        for dx in 0..<k { sum += row[dx] }
                    }
                    y[oy * ow + ox] = sum * scale
                }
            }
        }
    }

    /// Adds `dOutput / k^2` to every input position of each window.
    public static func backward(
        inputGradient: UnsafeMutablePointer<Float>,
        outputGradient: UnsafePointer<Float>,
        planes: Int,
        height: Int,
        width: Int,
        window k: Int
    ) {
        let (oh, ow) = (height / k, width / k)
        let scale = 1 / Float(k * k)
        for plane in 0..<planes {
            let dx = inputGradient + plane * height * width
            let dy = outputGradient + plane * oh * ow
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let share = dy[oy * ow + ox] * scale
                    for wy in 0..<k {
                        let row = dx + (oy * k + wy) * width + ox * k
                        for wx in 0..<k { row[wx] += share }
                    }
                }
            }
        }
    }
}
