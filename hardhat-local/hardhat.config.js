// Hardhat 2 configuration for TrustLedger's local chain and an offline `npx hardhat compile`.
//
// Node 20 cannot run Hardhat 3, so this project pins Hardhat 2.29. The native solc download host is not
// reachable from our machines, so compilation is pointed at the solc-js build pinned in package.json.
// The canonical build is `python -m ledger.compile` (it writes the artifacts shipped in the Python
// package); this config exists so that Hardhat users get the same compiler and settings.
const path = require("path");
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");

const SOLC_VERSION = require("solc/package.json").version;

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) {
    return runSuper();
  }
  const solc = require("solc");
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: args.solcVersion,
    longVersion: solc.version(),
  };
});

/** @type import('hardhat/config').HardhatUserConfig */
module.exports = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      optimizer: { enabled: true, runs: 10000 },
      evmVersion: "cancun",
    },
  },
  paths: {
    sources: path.join(__dirname, "..", "contracts"),
    artifacts: path.join(__dirname, "artifacts"),
    cache: path.join(__dirname, "cache"),
  },
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: "cancun",
      // Mine on demand; tests move time with evm_increaseTime.
      mining: { auto: true },
      allowBlocksWithSameTimestamp: true,
    },
  },
};
