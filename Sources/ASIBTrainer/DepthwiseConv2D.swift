// Shapes: input and input gradient [C, B, H, W]; weight [C, 1, k, k]; output and output
// gradient [C, B, Ho, Wo].

/// A depthwise 2-D convolution (one k x k filter per channel, `groups == Cin == Cout`) computed
/// by direct loops. Each output channel reads only its own input plane, so the im2col matrix
/// would be `k * k` rows of one GEMM per channel with a single output row; the direct loops
/// skip that copy and need no scratch.
enum DepthwiseConv2D {
    static func forward(
        output: UnsafeMutablePointer<Float>,
        input: UnsafePointer<Float>,
        weight: UnsafePointer<Float>,
        shape: Conv2DShape
    ) {
        let (h, w, oh, ow) = (shape.height, shape.width, shape.outHeight, shape.outWidth)
        let (k, s, p) = (shape.kernel, shape.stride, shape.padding)
        Parallel.forEach(shape.inChannels) { channel in
            let filter = weight + channel * k * k
            for b in 0..<shape.batch {
                let plane = input + (channel * shape.batch + b) * h * w
                let out = output + (channel * shape.batch + b) * oh * ow
                out.update(repeating: 0, count: oh * ow)
                for kx in 0..<k {
                    let (first, last) = Im2Col.validRange(
                        offset: kx, size: w, outSize: ow, stride: s, padding: p
                    )
                    guard last > first else { continue }
                    for ky in 0..<k {
                        let tap = filter[ky * k + kx]
                        for oy in 0..<oh {
                            let iy = oy * s - p + ky
                            guard iy >= 0 && iy < h else { continue }
                            let source = plane + iy * w - p + kx
                            let row = out + oy * ow
                            for ox in first..<last { row[ox] += tap * source[ox * s] }
                        }
                    }
                }
            }
        }
    }

    /// Adds `dWeight[c, ky, kx] = sum over b, oy, ox of dOutput * input at the tap`.
    static func backwardWeight(
        weightGradient: UnsafeMutablePointer<Float>,
        outputGradient: UnsafePointer<Float>,
        input: UnsafePointer<Float>,
        shape: Conv2DShape
    ) {
        let (h, w, oh, ow) = (shape.height, shape.width, shape.outHeight, shape.outWidth)
        let (k, s, p) = (shape.kernel, shape.stride, shape.padding)
        Parallel.forEach(shape.inChannels) { channel in
            let filterGradient = weightGradient + channel * k * k
            for kx in 0..<k {
                let (first, last) = Im2Col.validRange(
                    offset: kx, size: w, outSize: ow, stride: s, padding: p
                )
                guard last > first else { continue }
                for ky in 0..<k {
                    var total: Float = 0
                    for b in 0..<shape.batch {
                        let plane = input + (channel * shape.batch + b) * h * w
                        let gradient = outputGradient + (channel * shape.batch + b) * oh * ow
                        for oy in 0..<oh {
                            let iy = oy * s - p + ky
                            guard iy >= 0 && iy < h else { continue }
                            let source = plane + iy * w - p + kx
                            let row = gradient + oy * ow
                            for ox in first..<last { total += row[ox] * source[ox * s] }
                        }
                    }
                    filterGradient[ky * k + kx] += total
                }
            }
        }
    }

    /// Adds `dInput` at every tap position: `dInput[c, b, iy, ix] += weight * dOutput`.
    static func backwardInput(
        inputGradient: UnsafeMutablePointer<Float>,
        outputGradient: UnsafePointer<Float>,
        weight: UnsafePointer<Float>,
        shape: Conv2DShape
    ) {
        let (h, w, oh, ow) = (shape.height, shape.width, shape.outHeight, shape.outWidth)
        let (k, s, p) = (shape.kernel, shape.stride, shape.padding)
        Parallel.forEach(shape.inChannels) { channel in
            let filter = weight + channel * k * k
            for b in 0..<shape.batch {
                let plane = inputGradient + (channel * shape.batch + b) * h * w
                let gradient = outputGradient + (channel * shape.batch + b) * oh * ow
                for kx in 0..<k {
                    let (first, last) = Im2Col.validRange(
                        offset: kx, size: w, outSize: ow, stride: s, padding: p
                    )
                    guard last > first else { continue }
                    for ky in 0..<k {
                        let tap = filter[ky * k + kx]
                        for oy in 0..<oh {
                            let iy = oy * s - p + ky
                            guard iy >= 0 && iy < h else { continue }
                            let target = plane + iy * w - p + kx
                            let row = gradient + oy * ow
                            for ox in first..<last { target[ox * s] += tap * row[ox] }
                        }
                    }
                }
            }
        }
    }
}
