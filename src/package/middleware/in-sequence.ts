import type { NextFunction, Request, RequestHandler, Response } from "express";

/**
 * Several middleware as one: each step runs after the one before calls next, and an error
 * goes straight to the site's `next`. A page then passes one layer of the site's router for
 * the whole session stack, where each layer would cost a match and a dispatch of its own.
 */
export function inSequence(steps: RequestHandler[]): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    let at = 0;
    const step = (err?: unknown): void => {
      if (err) next(err);
      else if (at === steps.length) next();
      else {
        try {
          steps[at++](req, res, step);
        } catch (thrown) {
          next(thrown);
        }
      }
    };
    step();
  };
}
