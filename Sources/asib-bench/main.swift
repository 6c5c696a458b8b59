import ASIBSupport
import ASIBTrainer
import Foundation

// Measures training and evaluation throughput (images per second) of the trainer's ResNets
// at batch 128 on random data, for 1 and 2 BLAS threads unless given otherwise.

setvbuf(stdout, nil, _IOLBF, 0)
BLASCore.restartWithDetectedCoreIfNeeded()
let usage = """
    usage: asib-bench [--model NAME] [--input HxWxC] [--threads N] [--steps N] [--batch N]

    Without --model, measures resnet8 at 28x28x1 and 32x32x3, resnet20 and resnet8x4 at 28x28x1.
      --model NAME     one of \(ResNetArchitecture.names.joined(separator: ", "))
      --input HxWxC    image size, 28x28x1 or 32x32x3 (default 28x28x1)
      --threads N      BLAS threads; without it, 1 and then 2
      --steps N        timed steps per measurement, after 2 warm-up steps (default 20)
      --batch N        batch size (default 128)
    """

struct BenchCase {
    let model: String
    let height: Int
    let width: Int
    let channels: Int
    var inputText: String { "\(height)x\(width)x\(channels)" }
}

func parseInput(_ text: String) throws -> (Int, Int, Int) {
    let parts = text.split(separator: "x").compactMap { Int($0) }
    guard parts.count == 3, parts.allSatisfy({ $0 > 0 }) else {
        throw UsageError("invalid value '\(text)' for '--input': expected HxWxC, e.g. 28x28x1")
    }
    return (parts[0], parts[1], parts[2])
}

/// Returns (train img/s, eval img/s) for one case.
func measure(_ benchCase: BenchCase, batch: Int, steps: Int) throws -> (Double, Double) {
    let architecture = try ResNetArchitecture.named(benchCase.model, key: "--model")
    let model = ResNetModel(
        architecture: architecture, inputChannels: benchCase.channels, classes: 10, seed: 1
    )
    let graph = ResNetGraph(
        model: model, batch: batch, height: benchCase.height, width: benchCase.width,
        withGradients: true
    )
    let input = Tensor(shape: [benchCase.channels, batch, benchCase.height, benchCase.width])
    var random = RandomGenerator(seed: 2)
    for i in 0..<input.count { input.data[i] = Float(random.nextNormal()) }
    var labels = (0..<batch).map { Int32($0 % 10) }
    let probabilities = Tensor(shape: [batch, 10])
    let logitGradient = Tensor(shape: [batch, 10])
    let optimiser = SGD(
        parameterCount: model.parameters.count, momentum: 0.9, nesterov: true, weightDecay: 5e-4
    )

    func trainStep() {
        model.parameters.zeroGradients()
        let logits = graph.forward(input: input.data, training: true)
        logitGradient.zero()
        labels.withUnsafeMutableBufferPointer { buffer in
            _ = CrossEntropyLoss.forward(
                probabilities: probabilities.data, logits: logits, labels: buffer.baseAddress!,
                smoothing: 0, batch: batch, classes: 10
            )
            CrossEntropyLoss.backward(
                logitGradient: logitGradient.data, probabilities: probabilities.data,
                labels: buffer.baseAddress!, smoothing: 0, scale: 1, batch: batch, classes: 10
            )
        }
        graph.backward(logitGradient: logitGradient.data)
        optimiser.step(
            values: model.parameters.values, gradients: model.parameters.gradients,
            count: model.parameters.count, learningRate: 0.01
        )
    }

    func timed(_ body: () -> Void) -> Double {
        for _ in 0..<2 { body() }
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<steps { body() }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Double(steps * batch) / seconds
    }

    let train = timed(trainStep)
    let eval = timed { graph.forward(input: input.data, training: false) }
    return (train, eval)
}

func cpuModel() -> String {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
        return "unknown"
    }
    let line = text.split(separator: "\n").first { $0.hasPrefix("model name") }
    return line.map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) }
        ?? "unknown"
}

var arguments = CommandLineArguments(Array(CommandLine.arguments.dropFirst()))
do {
    if arguments.flag("-h", "--help") {
        print(usage)
        exit(ExitCode.success)
    }
    let model = try arguments.value("--model")
    let input = try parseInput(try arguments.value("--input") ?? "28x28x1")
    let threads = try arguments.integer("--threads", in: 1...256)
    let steps = try arguments.integer("--steps", in: 1...100_000) ?? 20
    let batch = try arguments.integer("--batch", in: 1...4096) ?? 128
    _ = try arguments.positionals()

    var cases = [
        BenchCase(model: "resnet8", height: 28, width: 28, channels: 1),
        BenchCase(model: "resnet8", height: 32, width: 32, channels: 3),
        BenchCase(model: "resnet20", height: 28, width: 28, channels: 1),
        BenchCase(model: "resnet8x4", height: 28, width: 28, channels: 1),
    ]
    if let model {
        cases = [BenchCase(model: model, height: input.0, width: input.1, channels: input.2)]
    }
    let threadCounts = threads.map { [$0] } ?? [1, 2]

    print("command: " + CommandLine.arguments.joined(separator: " "))
    print("cpu: \(cpuModel()), \(ProcessInfo.processInfo.activeProcessorCount) cores")
    print("openblas: \(blasConfiguration())")
    print("batch \(batch), \(steps) timed steps after 2 warm-up steps, random data")
    print("")
    let header = ["model", "input", "threads", "MFLOPs/img", "train img/s", "eval img/s"]
    // Columns are 12 wide, wider for long model names, which `padding` would truncate.
    let width = max(12, (cases.map(\.model.count).max() ?? 0) + 2)
    print(header.map { $0.padding(toLength: width, withPad: " ", startingAt: 0) }.joined())
    for benchCase in cases {
        for count in threadCounts {
            setBLASThreads(count)
            let (train, eval) = try measure(benchCase, batch: batch, steps: steps)
            let flops = ResNetModel(
                architecture: try ResNetArchitecture.named(benchCase.model, key: "--model"),
                inputChannels: benchCase.channels, classes: 10, seed: 1, withGradients: false
            ).flopsPerImage(height: benchCase.height, width: benchCase.width)
            let cells = [
                benchCase.model, benchCase.inputText, "\(count)",
                String(format: "%.1f", Double(flops) / 1e6),
                String(format: "%.0f", train), String(format: "%.0f", eval),
            ]
            print(cells.map { $0.padding(toLength: width, withPad: " ", startingAt: 0) }.joined())
        }
    }
} catch let error as ReportableError {
    FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
    exit(error.exitCode)
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(ExitCode.failure)
}
