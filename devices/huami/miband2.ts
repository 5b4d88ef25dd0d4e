import { huamiBand } from './family.js';

/** Xiaomi Mi Band 2: auth flags 0x08, hub-generated key, kind masked to its low nibble. */
export default huamiBand({
  id: 'huami-miband2',
  model: 'Mi Band 2',
  description: 'Xiaomi Mi Band 2: per-minute steps, intensity, activity kind and heart rate; live heart rate.',
  names: ['MI Band 2'],
  authFlags: 0x08,
  cryptFlags: 0x00,
  kindMask: 0x0f,
  pairing: 'generated-key',
  pairingHint: 'Unpair the band from Mi Fit first. The hub generates a key; tap the band when it vibrates.',
});
