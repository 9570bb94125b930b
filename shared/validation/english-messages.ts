import * as z from 'zod/mini';
import { en } from 'zod/locales';

/**
 * zod/mini loads no locale: without one every issue's message is just "Invalid input". Modules whose issue
 * messages reach a person (mapping errors in the logs, CLI errors, the local sandbox's 400 bodies) import this
 * once for its effect. The English messages name the rule and the expected type, never the input value.
 * Paths-only renderers (webhook and write-api 4xx bodies, DrChrono response errors) need no messages.
 */
z.config(en());
