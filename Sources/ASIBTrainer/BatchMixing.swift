import Foundation

// Shapes: clean and mixed batch input [C, B, H, W]; labels and partner labels [B].

/// The mixing of one batch: sample b is combined with sample `partner[b]`, and its label
/// weights are `lambda` for its own label and `1 - lambda` for the partner's.
struct BatchMix: Equatable {
    var mode = MixMode.none
    var lambda = 1.0
    /// The partner permutation; the identity without mixing.
    var partner: [Int] = []
    /// The CutMix box `[x0, x1) x [y0, y1)` in pixels, nil for other modes.
    var box: (x0: Int, x1: Int, y0: Int, y1: Int)?

    static func == (left: BatchMix, right: BatchMix) -> Bool {
        left.mode == right.mode && left.lambda == right.lambda && left.partner == right.partner
            && left.box?.x0 == right.box?.x0 && left.box?.x1 == right.box?.x1
            && left.box?.y0 == right.box?.y0 && left.box?.y1 == right.box?.y1
    }

    /// Whether the student sees a mixed batch.
    var isMixed: Bool { mode != .none }
}

/// Mixup (Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018) and CutMix
/// (Yun et al., "CutMix: Regularization Strategy to Train Strong Classifiers with Localizable
/// Features", ICCV 2019), with one coefficient and one partner permutation per batch.
enum BatchMixing {
    /// Draws the mixing of a batch and writes the mixed images into `mixed`; `clean` is left
    /// unchanged. Without mixing, `mixed` is not written and the mix is the identity.
    static func mix(
        mode: MixMode, alpha: Double, clean: UnsafePointer<Float>,
        mixed: UnsafeMutablePointer<Float>, shape: (channels: Int, batch: Int, height: Int, width: Int),
        random: inout RandomGenerator
    ) -> BatchMix {
        let (channels, batch, height, width) = shape
        var mix = BatchMix(mode: mode, lambda: 1, partner: Array(0..<batch))
        guard mode != .none else { return mix }
        mix.partner = random.permutation(batch)
        let lambda0 = random.nextBeta(alpha, alpha)
        let plane = height * width
        switch mode {
        case .none:
            break
        case .mixup:
            mix.lambda = lambda0
            let a = Float(lambda0)
            let b = Float(1 - lambda0)
            for c in 0..<channels {
                for sample in 0..<batch {
                    let own = clean + (c * batch + sample) * plane
                    let other = clean + (c * batch + mix.partner[sample]) * plane
                    let output = mixed + (c * batch + sample) * plane
                    for i in 0..<plane { output[i] = a * own[i] + b * other[i] }
                }
            }
        case .cutmix:
            let box = cutMixBox(lambda0: lambda0, height: height, width: width, random: &random)
            mix.box = box
            mix.lambda = 1 - Double((box.x1 - box.x0) * (box.y1 - box.y0)) / Double(plane)
            mixed.update(from: clean, count: channels * batch * plane)
            for c in 0..<channels {
                for sample in 0..<batch {
                    let other = clean + (c * batch + mix.partner[sample]) * plane
                    let output = mixed + (c * batch + sample) * plane
                    for y in box.y0..<box.y1 {
                        for x in box.x0..<box.x1 { output[y * width + x] = other[y * width + x] }
                    }
                }
            }
        }
        return mix
    }

    /// Draws the CutMix box for a coefficient `lambda0`: sides `floor(sqrt(1 - lambda0) * W)`
    /// and `floor(sqrt(1 - lambda0) * H)`, so the box covers a `1 - lambda0` share before
    /// clipping, around a centre drawn uniformly from the pixel grid and clipped to the image.
    /// The original ASIB code scaled the sides by `1 - lambda0` instead of its square root.
    /// That gives far smaller boxes than the published CutMix recipe, so we follow the paper.
    static func cutMixBox(
        lambda0: Double, height: Int, width: Int, random: inout RandomGenerator
    ) -> (x0: Int, x1: Int, y0: Int, y1: Int) {
        let ratio = max(0, 1 - lambda0).squareRoot()
        let cutWidth = Int((Double(width) * ratio).rounded(.down))
        let cutHeight = Int((Double(height) * ratio).rounded(.down))
        let centreX = random.nextInt(below: width)
        let centreY = random.nextInt(below: height)
        let x0 = min(max(centreX - cutWidth / 2, 0), width)
        let x1 = min(max(centreX + cutWidth / 2, 0), width)
        let y0 = min(max(centreY - cutHeight / 2, 0), height)
        let y1 = min(max(centreY + cutHeight / 2, 0), height)
        return (x0, x1, y0, y1)
    }

    /// Returns the labels of the partners: `labels[partner[b]]`.
    static func partnerLabels(_ labels: [Int32], mix: BatchMix, batch: Int) -> [Int32] {
        (0..<batch).map { labels[mix.partner[$0]] }
    }
}
