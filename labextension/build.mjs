// Build the prebuilt JupyterLab extension into ../tilemaker_widget/labextension.
// @jupyterlab/builder needs the host JupyterLab's "core" package.json (its staging
// folder) to know which modules are shared; it is found through the Python that has
// JupyterLab installed ($PYTHON, else the project's .venv, else python3).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const venv = join(here, "..", ".venv", "bin", "python");
const python = process.env.PYTHON || (existsSync(venv) ? venv : "python3");
const core = execFileSync(python, ["-c", "import jupyterlab, os; print(os.path.join(os.path.dirname(jupyterlab.__file__), 'staging'))"], { encoding: "utf8" }).trim();
const builder = join(here, "node_modules", "@jupyterlab", "builder", "lib", "build-labextension.js");
execFileSync(process.execPath, [builder, "--core-path", core, ...process.argv.slice(2), here], { stdio: "inherit" });
