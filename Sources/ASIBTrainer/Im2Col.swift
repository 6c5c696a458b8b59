import Foundation

// Shapes: input [Cin, B, H, W]; columns [Cin * k * k, B * Ho * Wo], row (c, ky, kx).

/// Unfolds convolution patches into a matrix and folds them back.
enum Im2Col {
    /// Writes the im2col matrix of `input` into `columns`; padded positions become zero.
    static func unfold(
        columns: UnsafeMutablePointer<Float>,
        input: UnsafePointer<Float>,
        shape: Conv2DShape
    ) {
        let k = shape.kernel
        Parallel.forEach(shape.inChannels * k * k) { row in
            let channel = row / (k * k)
            let ky = (row / k) % k
            let kx = row % k
            if shape.stride == 1 && shape.outHeight == shape.height
                && shape.outWidth == shape.width {
                unfoldSameRow(
                    columns + row * shape.outputPixels,
                    input + channel * shape.batch * shape.height * shape.width,
                    ky: ky, kx: kx, shape: shape
                )
                return
            }
            unfoldRow(
                columns + row * shape.outputPixels,
                input + channel * shape.batch * shape.height * shape.width,
                ky: ky, kx: kx, shape: shape
            )
        }
    }

    /// Adds the columns back onto `inputGradient`, summing overlapping patches.
    static func fold(
        inputGradient: UnsafeMutablePointer<Float>,
        columns: UnsafePointer<Float>,
        shape: Conv2DShape
    ) {
        let k = shape.kernel
        // Rows of one channel write the same input plane, so work is split by channel.
        Parallel.forEach(shape.inChannels) { channel in
            let plane = inputGradient + channel * shape.batch * shape.height * shape.width
            for ky in 0..<k {
                for kx in 0..<k {
                    let row = (channel * k + ky) * k + kx
                    foldRow(plane, columns + row * shape.outputPixels, ky: ky, kx: kx, shape: shape)
                }
            }
        }
    }

    private static func unfoldRow(
        _ destination: UnsafeMutablePointer<Float>,
        _ plane: UnsafePointer<Float>,
        ky: Int, kx: Int, shape: Conv2DShape
    ) {
        let (h, w, oh, ow) = (shape.height, shape.width, shape.outHeight, shape.outWidth)
        let (s, p) = (shape.stride, shape.padding)
        let (first, last) = validRange(offset: kx, size: w, outSize: ow, stride: s, padding: p)
        var out = destination
        for b in 0..<shape.batch {
            let image = plane + b * h * w
            for oy in 0..<oh {
                let iy = oy * s - p + ky
                if iy < 0 || iy >= h {
                    out.update(repeating: 0, count: ow)
                } else {
                    let source = image + iy * w - p + kx
                    for ox in 0..<first { out[ox] = 0 }
                    if s == 1 {
                        if last > first {
                            (out + first).update(from: source + first, count: last - first)
                        }
                    } else {
                        var ox = first
                        while ox < last {
                            out[ox] = source[ox * s]
                            ox += 1
                        }
                    }
                    var ox = max(last, first)
                    while ox < ow {
                        out[ox] = 0
                        ox += 1
                    }
                }
                out += ow
            }
        }
    }

    /// Unfolds one row for a stride-1 convolution whose output has the input's size. Each
    /// image plane is then one shifted copy, and only the wrapped border columns and the
    /// rows outside the image need zeros.
    private static func unfoldSameRow(
        _ destination: UnsafeMutablePointer<Float>,
        _ plane: UnsafePointer<Float>,
        ky: Int, kx: Int, shape: Conv2DShape
    ) {
        let (h, w) = (shape.height, shape.width)
        let dy = ky - shape.padding
        let dx = kx - shape.padding
        let firstRow = max(0, -dy)
        let lastRow = min(h, h - dy)
        for b in 0..<shape.batch {
            let image = plane + b * h * w
            let out = destination + b * h * w
            if firstRow > 0 { out.update(repeating: 0, count: firstRow * w) }
            if lastRow < h { (out + lastRow * w).update(repeating: 0, count: (h - lastRow) * w) }
            guard lastRow > firstRow else { continue }

            // out[y, x] = image[y + dy, x + dx] as one block; the elements that fall outside
            // the plane lie in border columns, which are zeroed below.
            var start = firstRow * w
            var end = lastRow * w
            let shift = dy * w + dx
            if start + shift < 0 { start = -shift }
            if end + shift > h * w { end = h * w - shift }
            (out + start).update(from: image + start + shift, count: end - start)
            for y in firstRow..<lastRow {
                let rowStart = out + y * w
                for x in 0..<max(0, -dx) { rowStart[x] = 0 }
                for x in min(w, w - dx)..<w { rowStart[x] = 0 }
            }
        }
    }

    private static func foldRow(
        _ plane: UnsafeMutablePointer<Float>,
        _ source: UnsafePointer<Float>,
        ky: Int, kx: Int, shape: Conv2DShape
    ) {
        let (h, w, oh, ow) = (shape.height, shape.width, shape.outHeight, shape.outWidth)
        let (s, p) = (shape.stride, shape.padding)
        let (first, last) = validRange(offset: kx, size: w, outSize: ow, stride: s, padding: p)
        var column = source
        for b in 0..<shape.batch {
            let image = plane + b * h * w
            for oy in 0..<oh {
                let iy = oy * s - p + ky
                if iy >= 0 && iy < h {
                    let target = image + iy * w - p + kx
                    if s == 1 {
                        for ox in first..<max(first, last) { target[ox] += column[ox] }
                    } else {
                        var ox = first
                        while ox < last {
                            target[ox * s] += column[ox]
                            ox += 1
                        }
                    }
                }
                column += ow
            }
        }
    }

    /// Returns the output columns `first..<last` whose input column `ox * s - p + offset` lies
    /// inside `0..<size`.
    static func validRange(
        offset: Int, size: Int, outSize: Int, stride: Int, padding: Int
    ) -> (Int, Int) {
        var first = 0
        while first < outSize && first * stride - padding + offset < 0 { first += 1 }
        var last = outSize
        while last > first && (last - 1) * stride - padding + offset >= size { last -= 1 }
        return (first, last)
    }
}
