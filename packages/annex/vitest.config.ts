import { yakVitestConfig } from '../../vitest.shared.ts';

export default yakVitestConfig();
