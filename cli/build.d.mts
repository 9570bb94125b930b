// Types for cli/build.mjs (plain JS so the bin shim and `npm install` can run it without a TypeScript loader).
export declare const ROOT: string;
export declare const BUILD_DIR: string;
export declare const MANIFEST_FILE: string;
/**
 * The built CLI's entry if the build exists and none of its recorded inputs changed; undefined if it must be rebuilt
 * (`why` hears the first reason).
 */
export declare function freshBuild(root?: string, why?: (reason: string) => void): string | undefined;
/** Builds the CLI into a new build directory and makes it current. */
export declare function buildCli(root?: string): Promise<{ entry: string; inputs: number; bytes: number }>;
/** A superseded build is removed only this long after it stopped being current (its marker's mtime). */
export declare const SUPERSEDED_GRACE_MS: number;
/** The file that marks a build directory superseded; its mtime is when it stopped being current. */
export declare const SUPERSEDED_MARKER: string;
/** Removes builds superseded more than SUPERSEDED_GRACE_MS ago (marking unmarked non-current ones) and stale tmp- dirs. */
export declare function pruneBuilds(root: string, keep?: string, now?: number): void;
/** Points the manifest at build `id`, clears a superseded marker a racing pruner may have left on it; returns the build it replaced. */
export declare function makeCurrent(root: string, id: string, inputs: { path: string; mtimeMs: number; size: number }[]): string | undefined;
/** Why a build failed, in one line. */
export declare function buildFailure(err: unknown): string;
