// Express 4 beside Express 5 (an npm alias), for the tests a site on either runs: the same API.
declare module "express4" {
  import express = require("express");
  export = express;
}
