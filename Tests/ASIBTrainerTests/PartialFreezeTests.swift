import Foundation
import Testing
@testable import ASIBTrainer

// Partial freeze of a resnet8 student; the training checks run on the Fashion-MNIST files
// of the Debian package dataset-fashion-mnist.

private func model() -> ResNetModel {
    ResNetModel(
        architecture: try! ResNetArchitecture.named("resnet8", key: "model"), inputChannels: 1,
        classes: 10, seed: 1
    )
}

/// Names of the parameters inside `ranges`.
private func trainableNames(_ model: ResNetModel, _ ranges: [Range<Int>]?) -> Set<String> {
    guard let ranges else { return Set(model.parameters.entries.map(\.name)) }
    return Set(model.parameters.entries.filter { entry in
        ranges.contains { $0.contains(entry.offset) }
    }.map(\.name))
}

private func isNorm(_ name: String) -> Bool {
    name.contains("bn") || name.contains("downsample.1")
}

@Test func freezeLevelsSelectStages() {
    let student = model()
    let all = Set(student.parameters.entries.map(\.name))
    #expect(PartialFreeze.trainableRanges(model: student, level: -1, freezeBN: true) == nil)
    #expect(PartialFreeze.trainableRanges(model: student, level: 0, freezeBN: false) == nil)

    let levelZero = trainableNames(student, PartialFreeze.trainableRanges(model: student, level: 0, freezeBN: true))
    #expect(levelZero == all.filter { !isNorm($0) })

    let levelOne = trainableNames(student, PartialFreeze.trainableRanges(model: student, level: 1, freezeBN: true))
    #expect(levelOne == all.filter { ($0.hasPrefix("layer3.") || $0.hasPrefix("fc.")) && !isNorm($0) })
    #expect(levelOne.contains("layer3.0.conv1.weight"))
    #expect(levelOne.contains("fc.weight"))

    let levelTwo = trainableNames(student, PartialFreeze.trainableRanges(model: student, level: 2, freezeBN: true))
    #expect(levelTwo == all.filter {
        ($0.hasPrefix("layer2.") || $0.hasPrefix("layer3.") || $0.hasPrefix("fc.")) && !isNorm($0)
    })
    // Without freeze_bn every BN gamma and beta trains, those of frozen stages included.
    let levelOneBN = trainableNames(student, PartialFreeze.trainableRanges(model: student, level: 1, freezeBN: false))
    #expect(levelOneBN == levelOne.union(all.filter(isNorm)))
    #expect(levelOneBN.contains("bn1.weight"))
}

@Test func freezeLevelsSelectMobileNetGroups() throws {
    // mobilenetv2_x0_5: features.0 is the stem, features.1-17 the 17 inverted residual blocks
    // (feature stages end at blocks 3, 6 and 13 of features.N numbering), features.18 the last
    // 1x1 convolution and classifier.1 the head.
    let student = ResNetModel(
        architecture: try ResNetArchitecture.named("mobilenetv2_x0_5", key: "model"),
        inputChannels: 1, classes: 10, seed: 1
    )
    let all = Set(student.parameters.entries.map(\.name))
    func featureIndex(_ name: String) -> Int? {
        let parts = name.split(separator: ".")
        return parts.first == "features" ? Int(parts[1]) : nil
    }
    func isMobileNorm(_ name: String) -> Bool {
        student.statistics.entries.contains {
            $0.name.hasSuffix(".running_mean")
                && name.hasPrefix(String($0.name.dropLast(".running_mean".count)) + ".")
        }
    }
    let levelOne = trainableNames(
        student, PartialFreeze.trainableRanges(model: student, level: 1, freezeBN: true)
    )
    #expect(levelOne == all.filter {
        !isMobileNorm($0) && ($0.hasPrefix("classifier.") || (featureIndex($0) ?? 0) >= 14)
    })
    #expect(levelOne.contains("classifier.1.weight"))
    #expect(levelOne.contains("features.18.0.weight"))
    #expect(!levelOne.contains("features.13.conv.0.0.weight"))

    let levelTwo = trainableNames(
        student, PartialFreeze.trainableRanges(model: student, level: 2, freezeBN: true)
    )
    #expect(levelTwo == all.filter {
        !isMobileNorm($0) && ($0.hasPrefix("classifier.") || (featureIndex($0) ?? 0) >= 7)
    })
    #expect(!levelTwo.contains("features.0.0.weight"))
    #expect(!levelTwo.contains("features.6.conv.0.0.weight"))
}

@Test func freezeScheduleByStage() {
    var options = ASIBOptions()
    options.usePartialFreeze = true
    options.studentFreezeLevel = 1
    // From stage 2 on when only the level is given.
    #expect(options.studentFreezeLevel(stage: 1) == nil)
    #expect(options.studentFreezeLevel(stage: 2) == 1)
    #expect(options.studentFreezeLevel(stage: 3) == 1)
    options.studentFreezeLevelSchedule = [2, -1]
    #expect(options.studentFreezeLevel(stage: 1) == 2)
    #expect(options.studentFreezeLevel(stage: 2) == -1)
    #expect(options.studentFreezeLevel(stage: 3) == nil)
    options.usePartialFreeze = false
    #expect(options.studentFreezeLevel(stage: 1) == nil)
    #expect(options.studentFreezeLevel(stage: 2) == nil)
}

@Test(arguments: [OptimizerKind.sgd, .adamw])
func frozenParametersDoNotMove(_ optimizer: OptimizerKind) throws {
    var options = TrainingOptions()
    options.seed = 7
    options.studentModel = "resnet8"
    options.batchSize = 32
    options.trainLimit = 64
    options.testLimit = 32
    options.epochs = 2
    options.learningRate = 0.05
    options.weightDecay = 5e-3
    options.optimizer = optimizer
    let splits = try DatasetSource.load(options)
    let student = ResNetModel(
        architecture: try ResNetArchitecture.named("resnet8", key: "model"),
        inputChannels: splits.train.channels, classes: splits.train.classes, seed: options.seed
    )
    let session = TrainingSession(
        options: options, student: student, teachers: nil, train: splits.train, test: splits.test
    )
    // One unfrozen epoch leaves momentum (or Adam moments) in every parameter.
    _ = try session.trainEpoch(1)
    let ranges = try #require(PartialFreeze.trainableRanges(model: student, level: 1, freezeBN: true))
    session.trainableRanges = ranges
    let before = Array(UnsafeBufferPointer(start: student.parameters.values, count: student.parameters.count))
    let stateBefore = session.optimiser.stateValues
    _ = try session.trainEpoch(2)
    let after = Array(UnsafeBufferPointer(start: student.parameters.values, count: student.parameters.count))
    let stateAfter = session.optimiser.stateValues
    for entry in student.parameters.entries {
        let span = entry.offset..<(entry.offset + entry.count)
        let trains = ranges.contains { $0.contains(entry.offset) }
        let moved = Array(before[span]) != Array(after[span])
        #expect(moved == trains, "\(entry.name): moved \(moved), trainable \(trains)")
        if !trains {
            #expect(Array(stateBefore[span]) == Array(stateAfter[span]), "\(entry.name) optimiser state")
        }
    }
}
