/// The teacher logits that the KD loss distils from.
public enum KDTarget: String, Equatable, Sendable {
    /// One teacher's logits, chosen by `kdTeacherIndex`.
    case teacher
    /// The weighted average of all teachers' logits.
    case avg
    /// The synergy head's logits once the synergy gate is open, the average before.
    case synergy
    /// Per sample, the synergy logits or the teacher average, whichever has the lower label
    /// CE; the average while the synergy gate is closed.
    case auto
    /// The same per-sample choice as `auto`.
    case autoMin = "auto_min"
    /// Per sample, the teachers' logits weighted by their confidence
    /// `max softmax(t / tau_gate)`, normalised over the teachers.
    case weightedConf = "weighted_conf"

    /// Whether the target needs IB_MBM and the synergy head.
    public var usesSynergy: Bool { self == .synergy || self == .auto || self == .autoMin }
}

/// The student optimiser: SGD with momentum, or AdamW (betas 0.9 / 0.999, decoupled decay).
public enum OptimizerKind: String, Equatable, Sendable {
    case sgd
    case adamw
}

/// A teacher network: its architecture and the checkpoint file that contains its weights.
public struct TeacherSource: Equatable, Sendable {
    public var model: String
    public var checkpoint: String
    /// Config keys of the two values, for error messages.
    public var modelKey: String
    public var checkpointKey: String

    public init(model: String, checkpoint: String, modelKey: String, checkpointKey: String) {
        self.model = model
        self.checkpoint = checkpoint
        self.modelKey = modelKey
        self.checkpointKey = checkpointKey
    }
}

/// Every setting of one training run, typed; config key names are given in brackets.
public struct TrainingOptions: Equatable, Sendable {
    /// Seed of weights, shuffling, augmentation [seed].
    public var seed: UInt64 = 0
    /// [method_name]; informational.
    public var method = "ce_only"

    /// fashion_mnist, cifar10 or cifar100 [dataset.name].
    public var dataset = "fashion_mnist"
    /// Folder of the dataset files; nil uses the Fashion-MNIST package folder [dataset.root].
    public var datasetRoot: String?
    public var batchSize = 128
    /// First N images of each split, 0 for all [dataset.train_limit, dataset.test_limit].
    public var trainLimit = 0
    public var testLimit = 0
    /// Random crop with padding, plus horizontal flip on CIFAR [dataset.data_aug].
    public var dataAugmentation = false

    /// Trained network [model.student.name].
    public var studentModel = "resnet8"
    /// Teachers in order teacher1, teacher2; read only when `kdAlpha > 0`.
    public var teachers: [TeacherSource] = []
    public var kdTarget = KDTarget.teacher
    public var kdTeacherIndex = 0
    /// Weights of the teacher average; nil for the plain mean [teacher_weights].
    public var teacherWeights: [Double]?

    public var epochs = 1
    /// Student optimiser [optimizer].
    public var optimizer = OptimizerKind.sgd
    /// [student_lr, student_weight_decay, momentum, b_step_nesterov]
    public var learningRate = 0.1
    public var weightDecay = 5e-4
    public var momentum = 0.9
    public var nesterov = true
    /// Linear warm-up epochs, then the decay down to at least `minLearningRate`
    /// [schedule.lr_warmup_epochs, schedule.min_lr, schedule.type, schedule.step_size,
    /// schedule.gamma].
    public var warmupEpochs = 0
    public var minLearningRate = 0.0
    public var learningRateDecay = LearningRateDecay.cosine

    /// Loss weights, KD temperature and CE label smoothing
    /// [ce_alpha, kd_alpha, tau, ce_label_smoothing, kd_warmup_epochs].
    public var ceAlpha = 1.0
    public var kdAlpha = 0.0
    public var temperature = 4.0
    public var labelSmoothing = 0.0
    public var kdWarmupEpochs = 0
    /// Rounds the inputs of the student's matrix products (convolutions and the classifier,
    /// forward and backward) to bfloat16 precision; teachers stay in float32 [use_amp].
    public var useAMP = false
    /// The distillation loss of `method` and its weights.
    public var distillation = DistillationOptions()
    /// The ASIB A-Step and synergy B-Step settings.
    public var asib = ASIBOptions()
    /// Batch mixing, teacher views, two-view target and gradient clipping of the student step.
    public var studentStep = StudentStepOptions()

    public init() {}

    /// The KD weight of a 1-based epoch: `kdAlpha * min(1, epoch / kdWarmupEpochs)`, or
    /// `kdAlpha` without warm-up. With 10 warm-up epochs the weight is kdAlpha/10 in epoch 1
    /// and reaches kdAlpha in epoch 10.
    public func kdWeight(epoch: Int) -> Double {
        guard kdWarmupEpochs > 0 else { return kdAlpha }
        return kdAlpha * min(1, Double(epoch) / Double(kdWarmupEpochs))
    }
}
