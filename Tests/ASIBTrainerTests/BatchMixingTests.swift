import Foundation
import Testing
@testable import ASIBTrainer

// Shapes: batch input [C, B, H, W]; logits, probabilities and gradients [B, K]; labels [B].

@Test(arguments: [(0.3, 0.3), (1.0, 1.0), (2.0, 5.0)])
func betaSamplesMatchMoments(_ a: Double, _ b: Double) {
    var random = RandomGenerator(seed: 7)
    let count = 20_000
    let samples = (0..<count).map { _ in random.nextBeta(a, b) }
    let mean = samples.reduce(0, +) / Double(count)
    let variance = samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(count)
    let expectedMean = a / (a + b)
    let expectedVariance = a * b / ((a + b) * (a + b) * (a + b + 1))
    // Standard error of the mean is below 0.004 for these shapes; 0.01 is 2.5 of them.
    #expect(abs(mean - expectedMean) < 0.01)
    #expect(abs(variance - expectedVariance) < 0.1 * expectedVariance)
    #expect(samples.allSatisfy { (0...1).contains($0) })
}

@Test(arguments: [0.2, 1.0, 4.5])
func gammaSamplesMatchMean(_ shape: Double) {
    var random = RandomGenerator(seed: 8)
    let count = 20_000
    let mean = (0..<count).reduce(0.0) { total, _ in total + random.nextGamma(shape: shape) }
        / Double(count)
    // The variance equals the shape, so the standard error is sqrt(shape / count).
    #expect(abs(mean - shape) < 5 * (shape / Double(count)).squareRoot())
}

/// A [C, B, H, W] batch whose pixel values encode channel, sample and position.
private func patternBatch(channels: Int, batch: Int, height: Int, width: Int) -> [Float] {
    var values: [Float] = []
    for c in 0..<channels {
        for b in 0..<batch {
            for i in 0..<(height * width) { values.append(Float(c * 1000 + b * 100) + Float(i) / 64) }
        }
    }
    return values
}

private func mixed(
    _ mode: MixMode, alpha: Double, seed: UInt64, clean: [Float],
    shape: (Int, Int, Int, Int)
) -> (BatchMix, [Float]) {
    var random = RandomGenerator(seed: seed)
    var output = [Float](repeating: .nan, count: clean.count)
    let mix = clean.withUnsafeBufferPointer { input in
        output.withUnsafeMutableBufferPointer { result in
            BatchMixing.mix(
                mode: mode, alpha: alpha, clean: input.baseAddress!, mixed: result.baseAddress!,
                shape: shape, random: &random
            )
        }
    }
    return (mix, output)
}

@Test(arguments: [MixMode.mixup, .cutmix])
func mixingIsDeterministicPerSeed(_ mode: MixMode) {
    let shape = (2, 6, 8, 8)
    let clean = patternBatch(channels: 2, batch: 6, height: 8, width: 8)
    let (first, firstImages) = mixed(mode, alpha: 1, seed: 3, clean: clean, shape: shape)
    let (second, secondImages) = mixed(mode, alpha: 1, seed: 3, clean: clean, shape: shape)
    let (other, _) = mixed(mode, alpha: 1, seed: 4, clean: clean, shape: shape)
    #expect(first == second)
    #expect(firstImages == secondImages)
    #expect(first != other)
    #expect(first.partner.sorted() == Array(0..<6))
}

@Test func mixupBlendsPartnerImages() {
    let (channels, batch, height, width) = (2, 5, 4, 4)
    let clean = patternBatch(channels: channels, batch: batch, height: height, width: width)
    let (mix, images) = mixed(
        .mixup, alpha: 0.4, seed: 9, clean: clean, shape: (channels, batch, height, width)
    )
    #expect(mix.mode == .mixup)
    #expect(mix.box == nil)
    #expect(mix.lambda > 0)
    #expect(mix.lambda < 1)
    let plane = height * width
    for c in 0..<channels {
        for b in 0..<batch {
            for i in 0..<plane {
                let own = clean[(c * batch + b) * plane + i]
                let partner = clean[(c * batch + mix.partner[b]) * plane + i]
                let expected = Float(mix.lambda) * own + Float(1 - mix.lambda) * partner
                #expect(abs(images[(c * batch + b) * plane + i] - expected) < 1e-3)
            }
        }
    }
}

@Test func cutMixPastesPartnerBox() throws {
    let (channels, batch, height, width) = (3, 4, 10, 12)
    let clean = patternBatch(channels: channels, batch: batch, height: height, width: width)
    for seed in UInt64(0)..<20 {
        let (mix, images) = mixed(
            .cutmix, alpha: 1, seed: seed, clean: clean, shape: (channels, batch, height, width)
        )
        let box = try #require(mix.box)
        #expect(0 <= box.x0)
        #expect(box.x0 <= box.x1)
        #expect(box.x1 <= width)
        #expect(0 <= box.y0)
        #expect(box.y0 <= box.y1)
        #expect(box.y1 <= height)
        // Lambda is recomputed from the clipped box.
        let area = Double((box.x1 - box.x0) * (box.y1 - box.y0))
        #expect(abs(mix.lambda - (1 - area / Double(height * width))) < 1e-12)
        let plane = height * width
        for c in 0..<channels {
            for b in 0..<batch {
                for y in 0..<height {
                    for x in 0..<width {
                        let inside = (box.x0..<box.x1).contains(x) && (box.y0..<box.y1).contains(y)
                        let source = inside ? mix.partner[b] : b
                        let i = y * width + x
                        #expect(images[(c * batch + b) * plane + i] == clean[(c * batch + source) * plane + i])
                    }
                }
            }
        }
    }
}

@Test func cutMixBoxSidesScaleWithSquareRoot() {
    // lambda0 = 0.75 gives sides sqrt(0.25) * 32 = 16 before clipping, so an unclipped box
    // covers 16 x 16 pixels and lambda = 1 - 256 / 1024 = 0.75.
    var random = RandomGenerator(seed: 1)
    var unclipped = 0
    for _ in 0..<200 {
        let box = BatchMixing.cutMixBox(lambda0: 0.75, height: 32, width: 32, random: &random)
        #expect(box.x1 - box.x0 <= 16)
        #expect(box.y1 - box.y0 <= 16)
        if box.x0 > 0 && box.x1 < 32 && box.y0 > 0 && box.y1 < 32 {
            unclipped += 1
            #expect(box.x1 - box.x0 == 16)
            #expect(box.y1 - box.y0 == 16)
        }
    }
    #expect(unclipped > 50)
}

@Test func noMixingLeavesBatchClean() {
    var random = RandomGenerator(seed: 2)
    let before = random.savedState
    let clean: [Float] = [1, 2, 3, 4]
    var output: [Float] = [0, 0, 0, 0]
    let mix = BatchMixing.mix(
        mode: .none, alpha: 1, clean: clean, mixed: &output, shape: (1, 4, 1, 1),
        random: &random
    )
    #expect(mix.lambda == 1)
    #expect(mix.partner == [0, 1, 2, 3])
    #expect(!mix.isMixed)
    #expect(output == [0, 0, 0, 0])
    #expect(random.savedState == before)
}

@Test func mixedCrossEntropyMatchesLabelMixture() {
    let (batch, classes) = (3, 5)
    let logits = Tensor(shape: [batch, classes], values: GradientCheck.random(15, seed: 31))
    var own: [Int32] = [0, 3, 4]
    var partner: [Int32] = [2, 3, 1]
    let probabilities = Tensor(shape: [batch, classes])
    let lambda = 0.3
    let mixedLoss = CrossEntropyLoss.forward(
        probabilities: probabilities.data, logits: logits.data, labels: &own,
        partnerLabels: &partner, lambda: lambda, smoothing: 0.1, batch: batch, classes: classes
    )
    let ownLoss = CrossEntropyLoss.forward(
        probabilities: probabilities.data, logits: logits.data, labels: &own, smoothing: 0.1,
        batch: batch, classes: classes
    )
    let partnerLoss = CrossEntropyLoss.forward(
        probabilities: probabilities.data, logits: logits.data, labels: &partner,
        smoothing: 0.1, batch: batch, classes: classes
    )
    #expect(abs(mixedLoss - (lambda * ownLoss + (1 - lambda) * partnerLoss)) < 1e-9)
}

@Test func mixedCrossEntropyGradientMatchesFiniteDifferences() {
    let (batch, classes) = (4, 5)
    let logits = Tensor(shape: [batch, classes], values: GradientCheck.random(20, seed: 32))
    var own: [Int32] = [0, 3, 4, 1]
    var partner: [Int32] = [2, 3, 1, 0]
    let probabilities = Tensor(shape: [batch, classes])
    func loss() -> Double {
        CrossEntropyLoss.forward(
            probabilities: probabilities.data, logits: logits.data, labels: &own,
            partnerLabels: &partner, lambda: 0.65, smoothing: 0.05, batch: batch,
            classes: classes
        )
    }
    _ = loss()
    let gradient = Tensor(shape: [batch, classes])
    CrossEntropyLoss.backward(
        logitGradient: gradient.data, probabilities: probabilities.data, labels: &own,
        partnerLabels: &partner, lambda: 0.65, smoothing: 0.05, scale: 1, batch: batch,
        classes: classes
    )
    let numeric = GradientCheck.numeric(logits.data, count: 20, eps: 1e-3, loss: loss)
    #expect(GradientCheck.relativeError(gradient.values, numeric) < GradientCheck.tolerance)
}

@Test func gradientClippingScalesToMaxNorm() {
    var gradients: [Float] = [3, 0, -4]
    let norm = GradientClipping.clip(gradients: &gradients, count: 3, maxNorm: 1)
    #expect(abs(norm - 5) < 1e-9)
    let scale = 1 / (5 + 1e-6)
    #expect(abs(Double(gradients[0]) - 3 * scale) < 1e-6)
    #expect(gradients[1] == 0)
    #expect(abs(Double(gradients[2]) + 4 * scale) < 1e-6)

    var small: [Float] = [0.3, 0.4]
    let smallNorm = GradientClipping.clip(gradients: &small, count: 2, maxNorm: 1)
    #expect(abs(smallNorm - 0.5) < 1e-6)
    #expect(small == [0.3, 0.4])
}

/// A session on four random 1x8x8 images of three classes, mixing with CutMix.
private func tinySession() throws -> TrainingSession {
    var options = TrainingOptions()
    options.batchSize = 4
    options.studentStep.cutmixAlpha = 1
    var random = RandomGenerator(seed: 5)
    let pixels = (0..<(4 * 64)).map { _ in UInt8(random.nextInt(below: 256)) }
    let data = ImageDataset(
        name: "tiny", channels: 1, height: 8, width: 8, classes: 3, pixels: pixels,
        labels: [0, 1, 2, 1], mean: [0.5], std: [0.25]
    )
    let student = ResNetModel(
        architecture: try ResNetArchitecture.named("resnet8", key: "model.student.name"),
        inputChannels: 1, classes: 3, seed: 0
    )
    return TrainingSession(options: options, student: student, teachers: nil, train: data, test: data)
}

@Test func sessionMixesLabelsWithPartners() throws {
    let session = try tinySession()
    session.labels = [0, 1, 2, 1]
    for i in 0..<session.input.count { session.input.data[i] = Float(i % 7) }
    session.mixRandom = RandomGenerator(seed: 12)
    session.mixBatch(batch: 4)
    let mix = session.batchMix
    #expect(mix.mode == .cutmix)
    for b in 0..<4 { #expect(session.partnerLabels[b] == session.labels[mix.partner[b]]) }
    #expect(session.kdInput == session.input.data)
    #expect(session.synergyInput == session.input.data)

    // The sample gate's confidence: lambda * p[y] + (1 - lambda) * p[y[pi]].
    let probabilities: [Float] = [
        0.7, 0.2, 0.1, 0.1, 0.6, 0.3, 0.2, 0.2, 0.6, 0.3, 0.3, 0.4,
    ]
    session.probabilities.data.update(from: probabilities, count: 12)
    let confidence = session.labelProbabilities(batch: 4)
    for b in 0..<4 {
        let own = Double(probabilities[b * 3 + Int(session.labels[b])])
        let partner = Double(probabilities[b * 3 + Int(session.partnerLabels[b])])
        let expected = mix.lambda * own + (1 - mix.lambda) * partner
        #expect(abs(confidence[b] - expected) < 1e-7)
    }
    // DKD splits at the label with the larger mixing weight.
    let dominant = mix.lambda >= 0.5 ? session.labels : session.partnerLabels
    #expect(session.distillationLabels == dominant)
}
