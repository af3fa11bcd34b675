/** Every detector, in the order their findings are listed when severities tie. */
import type { Detector } from './detection.js';
import { createFailedSigninBurstDetector } from './failed-signin-burst.js';
import { createForeignApiCallerDetector } from './foreign-api-caller.js';
import { createNewSourceDetector } from './new-source.js';
import { createPasswordSprayingDetector } from './password-spraying.js';
import { createPrivilegeChangesDetector } from './privilege-changes.js';
import { createUnusualVolumeDetector } from './unusual-volume.js';

export function createAllDetectors(): Detector[] {
  return [
    createFailedSigninBurstDetector(),
    createPasswordSprayingDetector(),
    createForeignApiCallerDetector(),
    createPrivilegeChangesDetector(),
    createNewSourceDetector(),
    createUnusualVolumeDetector(),
  ];
}
