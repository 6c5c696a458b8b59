import ASIBSlurm
import Testing

@Suite("scontrol show config")
struct SlurmConfigurationTests {
    @Test("MaxArraySize is read from captured output")
    func capturedSample() throws {
        #expect(
            try SlurmConfiguration.maxArraySize(fromShowConfig: scontrolShowConfigSample) == 1001)
    }

    @Test("other settings ending in ArraySize are not taken")
    func exactKey() throws {
        let output = "MaxArraySizeLimit = 7\nMaxArraySize            = 40\n"
        #expect(try SlurmConfiguration.maxArraySize(fromShowConfig: output) == 40)
    }

    @Test("missing MaxArraySize is an error")
    func missing() {
        let output = scontrolShowConfigSample.split(separator: "\n")
            .filter { !$0.hasPrefix("MaxArraySize") }.joined(separator: "\n")
        #expect(throws: SlurmError.self) {
            try SlurmConfiguration.maxArraySize(fromShowConfig: output)
        }
    }

    @Test("non-numeric MaxArraySize is an error")
    func nonNumeric() {
        #expect(throws: SlurmError.self) {
            try SlurmConfiguration.maxArraySize(fromShowConfig: "MaxArraySize = (null)\n")
        }
    }
}
