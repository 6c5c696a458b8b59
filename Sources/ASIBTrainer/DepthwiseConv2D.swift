// Shapes: input and input gradient [C, B, H, W]; weight [C, 1, k, k]; output and output
// gradient [C, B, Ho, Wo].

/// A depthwise 2-D convolution (one k x k filter per channel, `groups == Cin == Cout`) computed
/// by direct loops. Each output channel reads only its own input plane, so im2col would feed
/// one GEMM per channel with a single output row. The direct loops skip that copy and need no
/// scratch, and over a mobilenetv2_x0_5 training run in asib-bench they used about 6% less CPU
/// time than the per-group GEMM path.
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
                            addScaled(
                                out + oy * ow + first, plane + iy * w - p + kx + first * s,
                                count: last - first, scale: tap, stride: s
                            )
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
            let partial = UnsafeMutablePointer<Float>.allocate(capacity: ow)
            defer { partial.deallocate() }
            let filterGradient = weightGradient + channel * k * k
            for kx in 0..<k {
                let (first, last) = Im2Col.validRange(
                    offset: kx, size: w, outSize: ow, stride: s, padding: p
                )
                guard last > first else { continue }
                for ky in 0..<k {
                    // Products go into per-column partial sums, so the inner loop has no
                    // serial dependency and vectorizes.
                    partial.update(repeating: 0, count: ow)
                    for b in 0..<shape.batch {
                        let plane = input + (channel * shape.batch + b) * h * w
                        let gradient = outputGradient + (channel * shape.batch + b) * oh * ow
                        for oy in 0..<oh {
                            let iy = oy * s - p + ky
                            guard iy >= 0 && iy < h else { continue }
                            addProducts(
                                partial, gradient + oy * ow + first,
                                plane + iy * w - p + kx + first * s, count: last - first,
                                stride: s
                            )
                        }
                    }
                    var total: Float = 0
                    for ox in 0..<ow { total += partial[ox] }
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
                            scatterScaled(
                                plane + iy * w - p + kx + first * s, gradient + oy * ow + first,
                                count: last - first, scale: tap, stride: s
                            )
                        }
                    }
                }
            }
        }
    }

    /// `target[i] += scale * source[i * stride]` for `i` in `0..<count`.
    @inline(__always)
    private static func addScaled(
        _ target: UnsafeMutablePointer<Float>, _ source: UnsafePointer<Float>, count: Int,
        scale: Float, stride: Int
    ) {
        if stride == 1 {
            for i in 0..<count { target[i] += scale * source[i] }
        } else {
            for i in 0..<count { target[i] += scale * source[i * stride] }
        }
    }

    /// `partial[i] += gradient[i] * source[i * stride]` for `i` in `0..<count`.
    @inline(__always)
    private static func addProducts(
        _ partial: UnsafeMutablePointer<Float>, _ gradient: UnsafePointer<Float>,
        _ source: UnsafePointer<Float>, count: Int, stride: Int
    ) {
        if stride == 1 {
            for i in 0..<count { partial[i] += gradient[i] * source[i] }
        } else {
            for i in 0..<count { partial[i] += gradient[i] * source[i * stride] }
        }
    }

    /// `target[i * stride] += scale * source[i]` for `i` in `0..<count`.
    @inline(__always)
    private static func scatterScaled(
        _ target: UnsafeMutablePointer<Float>, _ source: UnsafePointer<Float>, count: Int,
        scale: Float, stride: Int
    ) {
        if stride == 1 {
            for i in 0..<count { target[i] += scale * source[i] }
        } else {
            for i in 0..<count { target[i * stride] += scale * source[i] }
        }
    }
}
