/** `migrate`: creates or upgrades the store (PostgreSQL migrations, or the DATA_DIR layout); needs only the storage settings. */
import { parseArgs } from 'node:util';
import { loadStoreCommandSettings } from '../config/load-config.js';
import { EXIT_OK, type CommandIo, type ExitCode } from './io.js';
import { createCommandLogger, openStore, printer } from './wiring.js';

export async function migrateCommand(args: string[], io: CommandIo): Promise<ExitCode> {
  parseArgs({ args, options: {}, strict: true });
  const settings = loadStoreCommandSettings(io.env);
  const store = openStore(io, settings.storage, createCommandLogger(io, settings.logLevel, settings.secrets));
  try {
    await store.init();
    printer(io.stdout)(`${store.description}: schema version ${await store.schemaVersion()}`);
    return EXIT_OK;
  } finally {
    await store.close();
  }
}
