import { startForRun } from "./global-setup";

/** npm run test:topologies, project "sentinel". */
export default () => startForRun("sentinel");
