import { setFlash } from "../../package";

export const x = setFlash;
