import { startForRun } from "./global-setup";

/** npm run test:topologies, project "cluster". */
export default () => startForRun("cluster");
