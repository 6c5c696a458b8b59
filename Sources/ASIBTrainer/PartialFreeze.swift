/// The partial freeze of a student: which parameters its optimiser updates at a freeze level.
///
/// - level < 0: every parameter trains, whatever the value of `freezeBN`.
/// - level 0: every parameter trains except, with `freezeBN`, the BN gamma and beta.
/// - level 1: only the last group of blocks and the classifier train: `layer3.*` and `fc.*`
///   for the ResNets and Wide ResNets; for MobileNetV2 the blocks after the third feature stage
///   (the 160- and 320-channel groups), the last 1x1 convolution and `classifier.1.*`.
/// - level >= 2: the group before trains as well: `layer2.*`, or MobileNetV2's blocks from the
///   end of the second feature stage to the end of the third (the 64- and 96-channel groups).
/// - At levels >= 0 every BN gamma and beta then trains exactly when `freezeBN` is false,
///   including those of frozen stages, as the original ASIB freeze function does.
///
/// Frozen parameters keep their values and optimiser state: the optimiser skips them, so
/// weight decay and momentum do not move them either. BN running statistics keep updating in
/// training mode, as PyTorch does for parameters without gradients. The frozen stages are
/// the first ones, whose inputs do not change while they are frozen, so their statistics only
/// keep averaging the same input distribution.
enum PartialFreeze {
    /// Returns the sorted, merged ranges of `model.parameters` that train at `level`, nil when
    /// every parameter trains.
    static func trainableRanges(model: ResNetModel, level: Int, freezeBN: Bool) -> [Range<Int>]? {
        guard level >= 0 else { return nil }
        let suffix = ".running_mean"
        let normLayers = Set(model.statistics.entries.compactMap { entry in
            entry.name.hasSuffix(suffix) ? String(entry.name.dropLast(suffix.count)) : nil
        })
        let groups = freezeGroups(model)
        let trainedGroups = max(1, groups - min(level, 2) + 1)...groups
        var ranges: [Range<Int>] = []
        for entry in model.parameters.entries {
            let layer = entry.name.split(separator: ".").dropLast().joined(separator: ".")
            let trainable: Bool
            if normLayers.contains(layer) {
                trainable = !freezeBN
            } else if level == 0 {
                trainable = true
            } else if let group = freezeGroup(of: entry.name, in: model) {
                trainable = trainedGroups.contains(group)
            } else {
                trainable = true
            }
            guard trainable else { continue }
            let range = entry.offset..<(entry.offset + entry.count)
            if let last = ranges.last, last.upperBound == range.lowerBound {
                ranges[ranges.count - 1] = last.lowerBound..<range.upperBound
            } else {
                ranges.append(range)
            }
        }
        if ranges == [0..<model.parameters.count] { return nil }
        return ranges
    }

    /// Returns the number of block groups: the three stages of a ResNet, or a MobileNetV2's
    /// three feature stages plus the blocks after them.
    private static func freezeGroups(_ model: ResNetModel) -> Int {
        let stages = model.stageEndBlocks.count
        return model.architecture.mobileNetV2 == nil ? stages : stages + 1
    }

    /// Returns the 1-based block group of a parameter, 0 for the stem, or nil for the
    /// classifier, which trains at every level.
    private static func freezeGroup(of name: String, in model: ResNetModel) -> Int? {
        if name.hasPrefix("fc.") || name.hasPrefix("classifier.") { return nil }
        if model.architecture.mobileNetV2 != nil {
            // features.0 is the stem, features.1... the blocks, then the last convolution.
            let parts = name.split(separator: ".")
            guard parts.count > 1, parts[0] == "features", let index = Int(parts[1]) else {
                return 0
            }
            guard index > 0 else { return 0 }
            let block = index - 1
            let group = model.stageEndBlocks.firstIndex { block <= $0 }
            return (group ?? model.stageEndBlocks.count) + 1
        }
        for stage in 1...model.stageEndBlocks.count where name.hasPrefix("layer\(stage).") {
            return stage
        }
        return 0
    }
}
